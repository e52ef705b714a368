// The few globals the pure core uses beyond ECMAScript 2022, as browsers, Web Workers, Node and
// Deno all provide them. tsconfig.core.json compiles the core with these and nothing else (no DOM,
// no Node types), so a node:* import, `process` or `console` in the core fails to compile.
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: ArrayBufferView | ArrayBuffer): string;
}

// The part of the WebAssembly JavaScript API the permutation engine uses (the kernel is handed in compiled;
// the same declarations as src/permutation/webassembly.d.ts, which the Node build uses).
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number; shared?: boolean });
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
}

// A monotonic clock (browsers, Web Workers, Node and Deno have it), for the timings the engines report.
declare const performance: { now(): number };
