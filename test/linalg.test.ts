/**
 * The design's small linear algebra (model/linalg.ts): the SVD against its definition
 * (U diag(s) V' = A, orthonormal columns, descending s), and its reuse for one matrix: a repeated
 * call gives the first call's decomposition (as a fresh copy), and a matrix whose entries changed
 * is decomposed again (compared with the decomposition of a new matrix of the same entries).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Matrix, matmul, nullSpace, pinv, rank, svd, transpose } from '../src/model/linalg.js';
import { Rng } from '../src/random.js';

function randomMatrix(rng: Rng, n: number, p: number): Matrix {
  return Array.from({ length: n }, () => Array.from({ length: p }, () => rng.uniform() * 4 - 2));
}

const copy = (a: Matrix): Matrix => a.map((r) => r.slice());

test('svd: U diag(s) V\u2032 reproduces the matrix, U and V orthonormal, s descending (tolerance 1e-12 of |A|)', () => {
  const rng = new Rng(7);
  for (const [n, p] of [
    [40, 5],
    [5, 5],
    [12, 1],
  ] as const) {
    const A = randomMatrix(rng, n, p);
    const { U, s, V } = svd(A);
    for (let k = 1; k < p; k++) assert.ok(s[k - 1] >= s[k], 'descending');
    for (let i = 0; i < n; i++)
      for (let j = 0; j < p; j++) {
        let v = 0;
        for (let k = 0; k < p; k++) v += U[i][k] * s[k] * V[j][k];
        assert.ok(Math.abs(v - A[i][j]) < 1e-12 * 2 * Math.sqrt(n * p), `entry ${i},${j}`);
      }
    for (let a = 0; a < p; a++)
      for (let b = 0; b < p; b++) {
        let u = 0;
        let w = 0;
        for (let i = 0; i < n; i++) u += U[i][a] * U[i][b];
        for (let i = 0; i < p; i++) w += V[i][a] * V[i][b];
        assert.ok(Math.abs(u - (a === b ? 1 : 0)) < 1e-12, `U'U ${a},${b}`);
        assert.ok(Math.abs(w - (a === b ? 1 : 0)) < 1e-12, `V'V ${a},${b}`);
      }
  }
});

test('svd of one matrix again: the same decomposition, a copy the caller may change; changed entries are decomposed anew', () => {
  const rng = new Rng(11);
  const X = randomMatrix(rng, 30, 4);
  // a collinear column: rank 3, a null space of one vector
  for (const row of X) row[3] = row[0] - 2 * row[1];
  const first = svd(X);
  const again = svd(X);
  assert.deepEqual(again, first);
  assert.notEqual(again.U, first.U);
  again.U[0][0] = 123;
  again.s[0] = -1;
  assert.deepEqual(svd(X), svd(copy(X)), 'a caller changing its copy changes nothing');
  assert.equal(rank(X), 3);
  assert.equal(nullSpace(X)[0]?.length, 1);
  assert.deepEqual(pinv(X), pinv(copy(X)));
  // the same matrix object with other entries: decomposed again, as a new matrix of those entries is
  X[2][1] += 0.5;
  for (const row of X) row[3] = row[0] + row[2];
  assert.deepEqual(svd(X), svd(copy(X)));
  assert.deepEqual(pinv(X), pinv(copy(X)));
  X[5][0] = -0;
  X[6][0] = 0;
  assert.deepEqual(svd(X), svd(copy(X)));
});

test('matmul and transpose: a product and a transpose worked by hand; a row too short is an internal error', () => {
  const a = [
    [1, 2, 0],
    [-1, 0.5, 3],
  ];
  const b = [
    [2, 1],
    [0, -4],
    [1, 0.25],
  ];
  // by hand: [1*2 + 2*0 + 0*1, 1*1 + 2*(-4) + 0*0.25] and [-2 + 0 + 3, -1 - 2 + 0.75]
  assert.deepEqual(matmul(a, b), [
    [2, -7],
    [1, -2.25],
  ]);
  assert.deepEqual(transpose(a), [
    [1, -1],
    [2, 0.5],
    [0, 3],
  ]);
  assert.throws(() => matmul([[1, 2], [3]], [[1], [1]]), /internal error/);
  assert.throws(() => matmul([[1, 2]], [[1, 2], [3]]), /internal error/);
});
