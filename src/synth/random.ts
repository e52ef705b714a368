/** The seeded generator lives at the lowest layer (src/random.ts) so permutation/ can use it too. */
export { Rng } from '../random.js';
