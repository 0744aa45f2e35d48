import { describeCounterBackend } from '@arrakis/e2e-contracts';
import { memoryBackend } from './adapters/memory/index.js';

// The in-memory backend is the reference semantics; the persistent backends run the same suite
// beside their code (src/adapters/<name>/*.test.ts).
describeCounterBackend('memory', ({ clock }) => memoryBackend({ clock }), { clock: 'injected' });
