import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (listen on port 0, read it, close), for a process that must keep its port across restarts. */
export function freeLoopbackPortForTests(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
