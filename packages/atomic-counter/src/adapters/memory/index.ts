export type { MemoryBackendOptions } from './memory-backend.js';
export { memoryBackend } from './memory-backend.js';
