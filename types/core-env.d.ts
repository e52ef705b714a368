/// <reference path="./webassembly.d.ts" />
// (the WebAssembly API the permutation engine uses, the kernel being handed in compiled: the same
// declarations as the Node build's)

// The few globals the pure core uses beyond ECMAScript 2022, as browsers, Web Workers, Node and
// Deno all provide them. tsconfig.core.json compiles the core with these and nothing else (no DOM,
// no Node types), so a node:* import, `process` or `console` in the core fails to compile.
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: ArrayBufferView | ArrayBuffer): string;
}

// A monotonic clock (browsers, Web Workers, Node and Deno have it), for the timings the engines report.
declare const performance: { now(): number };
