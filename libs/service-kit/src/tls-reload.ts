import { unwatchFile, watchFile } from 'node:fs';
import type { Server as TlsServer } from 'node:tls';

import { ConfigError, type ServerTlsFiles } from '@rotor/config';
import type { Logger } from '@rotor/telemetry';

import { loadServerTls, logCertificate } from './tls-context';

export interface TlsReloadOptions {
  files: ServerTlsFiles;
  servers: readonly TlsServer[];
  logger: Logger;
  pollIntervalMs?: number;
}

/** Writers replace a pair one file at a time; a reload waits for the burst to settle. */
const SETTLE_MS = 250;

/**
 * Swaps the certificate, key and client CA into the running servers when their files change:
 * new connections get the new certificate, open ones keep theirs, nothing restarts. Polling
 * stat() follows symlinks, so it also sees the kubelet's and cert-manager's swap of a mounted
 * Secret's `..data` link, which inotify on the file itself misses. Returns the stop function.
 */
export function reloadTlsOnChange({ files, servers, logger, pollIntervalMs = 1_000 }: TlsReloadOptions): () => void {
  const paths = [files.certFile, files.keyFile, ...(files.clientCaFile ? [files.clientCaFile] : [])];
  let pending: NodeJS.Timeout | undefined;
  const reload = () => {
    try {
      const tls = loadServerTls(files);
      for (const server of servers) server.setSecureContext(tls.context);
      logCertificate(logger, tls.certificate, 'tls certificate reloaded');
    } catch (error) {
      // A half-written or mismatched pair: keep serving the previous one until the files settle.
      const reason = error instanceof ConfigError ? error.problems.join('; ') : 'the TLS library refused the new files';
      logger.warn({ reason }, 'tls certificate files changed but cannot be used; still serving the previous certificate');
    }
  };
  const onChange = () => {
    clearTimeout(pending);
    pending = setTimeout(reload, SETTLE_MS);
  };
  // Not persistent: a watcher never keeps a stopping process alive.
  for (const path of paths) watchFile(path, { interval: pollIntervalMs, persistent: false }, onChange);
  return () => {
    clearTimeout(pending);
    for (const path of paths) unwatchFile(path, onChange);
  };
}
