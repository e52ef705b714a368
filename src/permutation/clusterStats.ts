/**
 * Suprathreshold clusters of a statistic on the masked voxels: extent (voxels) and mass (the sum
 * of the statistic's excess over the cluster-forming threshold, as nilearn and Bullmore et al. 1999).
 */
import type { Neighbours } from '../inference/neighbours.js';

export interface ClusterWorkspace {
  label: Int32Array;
  stack: Int32Array;
}

export function clusterWorkspace(V: number): ClusterWorkspace {
  return { label: new Int32Array(V), stack: new Int32Array(V) };
}

export interface ClusterSummary {
  /** Cluster number (1..) of each masked voxel, 0 below threshold. */
  label: Int32Array;
  extent: number[];
  mass: number[];
  maxExtent: number;
  maxMass: number;
}

/** Clusters of voxels with stat > u. The returned label array is the workspace's (reused). */
export function suprathresholdClusters(
  stat: ArrayLike<number>,
  u: number,
  nb: Neighbours,
  ws: ClusterWorkspace,
): ClusterSummary {
  const V = ws.label.length;
  const { label, stack } = ws;
  label.fill(0);
  const extent: number[] = [];
  const mass: number[] = [];
  let maxExtent = 0;
  let maxMass = 0;
  for (let s = 0; s < V; s++) {
    if (!(stat[s] > u) || label[s]) continue;
    const id = extent.length + 1;
    let top = 0;
    stack[top++] = s;
    label[s] = id;
    let k = 0;
    let sum = 0;
    while (top) {
      const v = stack[--top];
      k++;
      sum += stat[v] - u;
      for (let q = nb.start[v], qe = nb.start[v + 1]; q < qe; q++) {
        const w = nb.list[q];
        if (!label[w] && stat[w] > u) {
          label[w] = id;
          stack[top++] = w;
        }
      }
    }
    extent.push(k);
    mass.push(sum);
    if (k > maxExtent) maxExtent = k;
    if (sum > maxMass) maxMass = sum;
  }
  return { label, extent, mass, maxExtent, maxMass };
}
