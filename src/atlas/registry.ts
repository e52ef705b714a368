import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { VbmError } from '../errors.js';
import { findLabelTable } from './atlas.js';

/** Where vbm looks for atlases a user already has, in order. */
export function atlasDirs(env: NodeJS.ProcessEnv = process.env): { dir: string; source: string }[] {
  const out: { dir: string; source: string }[] = [];
  if (env.VBM_ATLAS_DIR) for (const d of env.VBM_ATLAS_DIR.split(':')) out.push({ dir: d, source: 'VBM_ATLAS_DIR' });
  out.push({ dir: '/usr/share/mricron/templates', source: "Debian's mricron-data" });
  if (env.FSLDIR) out.push({ dir: join(env.FSLDIR, 'data', 'atlases'), source: 'FSL ($FSLDIR)' });
  return out;
}

/** Short names for the atlases of Debian's mricron-data. */
export const ATLAS_ALIASES: Record<string, string> = {
  aal: 'aal',
  brodmann: 'brodmann',
  harvardoxford: 'HarvardOxford-cort-maxprob-thr0-1mm',
  'harvard-oxford': 'HarvardOxford-cort-maxprob-thr0-1mm',
  jhu: 'JHU-WhiteMatter-labels-1mm',
  aicha: 'AICHAmc',
};

const NON_ATLAS = /^(ch2|ch2bet|ch2better|inia19-t1-brain|avg152|mni152|single_subj)/i;

export interface AtlasEntry {
  name: string;
  image: string;
  labels?: string;
  source: string;
}

/** Atlas images found in the search folders (label images with a label table, or known atlases). */
export function listAtlases(env: NodeJS.ProcessEnv = process.env): AtlasEntry[] {
  const out: AtlasEntry[] = [];
  for (const { dir, source } of atlasDirs(env)) {
    if (!existsSync(dir)) continue;
    const walk = (d: string, depth: number): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory() && depth < 2) walk(p, depth + 1);
        else if (/\.nii(\.gz)?$/i.test(e.name) && !NON_ATLAS.test(e.name)) {
          const name = e.name.replace(/\.nii(\.gz)?$/i, '');
          const labels = findLabelTable(p);
          const known = Object.values(ATLAS_ALIASES).includes(name);
          if (labels || known || /atlas|label|maxprob|prob/i.test(name)) out.push({ name, image: p, labels, source });
        }
      }
    };
    walk(dir, 0);
  }
  return out;
}

/** Resolve an atlas argument: a path, an alias (aal, brodmann, ...) or a name found in the search folders. */
export function resolveAtlas(spec: string, env: NodeJS.ProcessEnv = process.env): AtlasEntry {
  if (/[\\/]/.test(spec) || /\.nii(\.gz)?$/i.test(spec)) {
    if (!existsSync(spec)) throw new VbmError(`atlas image not found: ${spec}`);
    return {
      name: spec.replace(/^.*[\\/]/, '').replace(/\.nii(\.gz)?$/i, ''),
      image: spec,
      labels: findLabelTable(spec),
      source: 'path',
    };
  }
  const wanted = (ATLAS_ALIASES[spec.toLowerCase()] ?? spec).toLowerCase();
  const all = listAtlases(env);
  const hit =
    all.find((a) => a.name.toLowerCase() === wanted) ?? all.find((a) => a.name.toLowerCase().startsWith(wanted));
  if (hit) return hit;
  const looked = atlasDirs(env).map((d) => `${d.dir} (${d.source}${existsSync(d.dir) ? '' : ', missing'})`);
  throw new VbmError(
    `atlas '${spec}' not found; looked in: ${looked.join('; ')}`,
    "install Debian's atlases with `sudo apt-get install mricron-data`, set VBM_ATLAS_DIR to a folder of atlases, or give a path: --atlas /path/to/atlas.nii.gz --labels labels.csv",
  );
}
