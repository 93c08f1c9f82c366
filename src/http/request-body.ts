/**
 * Reading an HTTP request's body with a size limit, for the JSON APIs on UNIX sockets. A body
 * declared larger than the limit is refused before any of it is read; one that grows past it
 * while streaming cuts the connection (the sender ignored its own declared length or sent none).
 */
import type http from 'node:http';
import type { ServerErrorClass } from './json-api-server.js';

/** The body as text (UTF-8); ETOOLARGE (field `body`) past `maxBytes`. */
export function readBodyText(
  request: http.IncomingMessage,
  maxBytes: number,
  error: ServerErrorClass,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new error('ETOOLARGE', `body: larger than ${maxBytes} bytes`, { field: 'body' });
    if (Number(request.headers['content-length'] ?? 0) > maxBytes) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        request.destroy();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    request.on('error', reject);
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
