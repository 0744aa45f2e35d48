import { freeLoopbackPort } from '@arrakis/e2e-contracts';

/** A free TCP port on 127.0.0.1, for a process that must keep its port across restarts. */
export function freeLoopbackPortForTests(): Promise<number> {
  return freeLoopbackPort();
}
