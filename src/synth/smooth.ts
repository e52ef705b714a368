/**
 * Separable Gaussian smoothing of a 3-D grid (x fastest), kernel truncated at 4 sigma,
 * renormalised at the borders so a constant stays constant.
 */
export function gaussianSmooth(data: Float32Array, dims: readonly number[], fwhmVox: readonly number[]): Float32Array {
  let cur = Float32Array.from(data);
  let tmp = new Float32Array(data.length);
  const [nx, ny, nz] = dims;
  const strides = [1, nx, nx * ny];
  for (let axis = 0; axis < 3; axis++) {
    const sigma = fwhmVox[axis] / Math.sqrt(8 * Math.log(2));
    if (!(sigma > 0)) continue;
    const r = Math.max(1, Math.ceil(4 * sigma));
    const k = new Float64Array(2 * r + 1);
    for (let i = -r; i <= r; i++) k[i + r] = Math.exp((-0.5 * i * i) / (sigma * sigma));
    const len = dims[axis];
    const stride = strides[axis];
    const line = new Float64Array(len);
    const outer = data.length / len;
    for (let o = 0; o < outer; o++) {
      // start index of the o-th line along `axis`
      let start: number;
      if (axis === 0) start = o * nx;
      else if (axis === 1) start = (o % nx) + Math.floor(o / nx) * nx * ny;
      else start = o;
      for (let i = 0; i < len; i++) line[i] = cur[start + i * stride];
      for (let i = 0; i < len; i++) {
        let s = 0;
        let w = 0;
        const lo = Math.max(0, i - r);
        const hi = Math.min(len - 1, i + r);
        for (let j = lo; j <= hi; j++) {
          const kw = k[j - i + r];
          s += kw * line[j];
          w += kw;
        }
        tmp[start + i * stride] = s / w;
      }
    }
    [cur, tmp] = [tmp, cur];
  }
  void nz;
  return cur;
}
