import { Metadata, status } from '@grpc/grpc-js';

/** A gRPC error answer: its status code and message, and trailers when it carries details. */
export class RpcError extends Error {
  metadata?: Metadata;

  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

export const fail = (code: status, message: string): never => {
  throw new RpcError(code, message);
};

// Minimal protobuf writer for the google.rpc.Status that gRPC carries in the
// `grpc-status-details-bin` trailer (what the Google client decodes into err.reason /
// err.errorInfoMetadata).
function pbVarint(n: number): Buffer {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}
const pbBytes = (field: number, buf: Buffer): Buffer => Buffer.concat([pbVarint((field << 3) | 2), pbVarint(buf.length), buf]);
const pbString = (field: number, str: string): Buffer => pbBytes(field, Buffer.from(str, 'utf8'));

function statusDetails(code: status, message: string, reason: string, metadata: Record<string, string>): Buffer {
  const errorInfo = Buffer.concat([
    pbString(1, reason),
    pbString(2, 'googleapis.com'),
    ...Object.entries(metadata).map(([k, v]) => pbBytes(3, Buffer.concat([pbString(1, k), pbString(2, v)]))),
  ]);
  const any = Buffer.concat([pbString(1, 'type.googleapis.com/google.rpc.ErrorInfo'), pbBytes(2, errorInfo)]);
  return Buffer.concat([pbVarint(1 << 3), pbVarint(code), pbString(2, message), pbBytes(3, any)]);
}

/** RESOURCE_EXHAUSTED with a google.rpc.ErrorInfo detail (reason RATE_LIMIT_EXCEEDED), as Google answers. */
export class QuotaError extends RpcError {
  constructor(message: string, metadata: Record<string, string>) {
    super(status.RESOURCE_EXHAUSTED, message);
    this.metadata = new Metadata();
    this.metadata.set('grpc-status-details-bin', statusDetails(status.RESOURCE_EXHAUSTED, message, 'RATE_LIMIT_EXCEEDED', metadata));
  }
}
