export * from '../../src/runtime/index.ts';
export { decodeFrame as decodeFrameForTest } from '../../src/runtime/codec.ts';
