/**
 * Which bytes can be part of a managed value as it appears in text. Generated values use
 * base64url, hex or the password alphabet, all within RAW; a value stored in a Kubernetes
 * manifest appears base64-encoded, within BASE64. A byte outside both ends every candidate,
 * so newlines, spaces, quotes, `=`, `:` and `/` split text into candidates for free.
 */
export const RAW_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~!@#%^*';
export const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=';

export type FingerprintForm = 'raw' | 'base64';

/** Bit per byte: 1 = in RAW, 2 = in BASE64. */
export const CLASS_RAW = 1;
export const CLASS_BASE64 = 2;

export const BYTE_CLASS: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (const char of RAW_ALPHABET) table[char.charCodeAt(0)]! |= CLASS_RAW;
  for (const char of BASE64_ALPHABET) table[char.charCodeAt(0)]! |= CLASS_BASE64;
  return table;
})();

/** True when every byte of the value can appear in a raw candidate (all generated values can). */
export function isInRawAlphabet(value: Uint8Array): boolean {
  for (const byte of value) if ((BYTE_CLASS[byte]! & CLASS_RAW) === 0) return false;
  return value.length > 0;
}
