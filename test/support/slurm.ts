/**
 * Why the Slurm tests cannot run here, or false when they can: they need root (the local Slurm of
 * ../shared/tools/slurm runs as root), SLURM_CONF pointing at its slurm.conf (.ci/run exports it)
 * and a scheduler that answers.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export function slurmMissing(): string | false {
  if (process.getuid && process.getuid() !== 0)
    return 'not root: the local Slurm of ../shared/tools/slurm runs as root';
  if (!process.env.SLURM_CONF || !existsSync(process.env.SLURM_CONF))
    return 'SLURM_CONF is not set to a slurm.conf (.ci/run starts a local Slurm with ../shared/tools/slurm/start-local-slurm.sh and exports it)';
  const r = spawnSync('sinfo', ['--noheader', '--format=%T'], { encoding: 'utf8' });
  if (r.error) return 'sbatch/sinfo are not installed';
  if (r.status !== 0) return `Slurm does not answer: ${r.stderr.trim()}`;
  return false;
}
