/**
 * Region names for atlases that Debian's mricron-data ships without a label table.
 * Harvard-Oxford cortical (FSL's region order; the max-prob image stores index + 1, not lateralised)
 * and Brodmann (the code is the area number).
 */

const HARVARD_OXFORD_CORTICAL = [
  'Frontal Pole',
  'Insular Cortex',
  'Superior Frontal Gyrus',
  'Middle Frontal Gyrus',
  'Inferior Frontal Gyrus, pars triangularis',
  'Inferior Frontal Gyrus, pars opercularis',
  'Precentral Gyrus',
  'Temporal Pole',
  'Superior Temporal Gyrus, anterior division',
  'Superior Temporal Gyrus, posterior division',
  'Middle Temporal Gyrus, anterior division',
  'Middle Temporal Gyrus, posterior division',
  'Middle Temporal Gyrus, temporooccipital part',
  'Inferior Temporal Gyrus, anterior division',
  'Inferior Temporal Gyrus, posterior division',
  'Inferior Temporal Gyrus, temporooccipital part',
  'Postcentral Gyrus',
  'Superior Parietal Lobule',
  'Supramarginal Gyrus, anterior division',
  'Supramarginal Gyrus, posterior division',
  'Angular Gyrus',
  'Lateral Occipital Cortex, superior division',
  'Lateral Occipital Cortex, inferior division',
  'Intracalcarine Cortex',
  'Frontal Medial Cortex',
  'Juxtapositional Lobule Cortex (formerly Supplementary Motor Cortex)',
  'Subcallosal Cortex',
  'Paracingulate Gyrus',
  'Cingulate Gyrus, anterior division',
  'Cingulate Gyrus, posterior division',
  'Precuneous Cortex',
  'Cuneal Cortex',
  'Frontal Orbital Cortex',
  'Parahippocampal Gyrus, anterior division',
  'Parahippocampal Gyrus, posterior division',
  'Lingual Gyrus',
  'Temporal Fusiform Cortex, anterior division',
  'Temporal Fusiform Cortex, posterior division',
  'Temporal Occipital Fusiform Cortex',
  'Occipital Fusiform Gyrus',
  'Frontal Operculum Cortex',
  'Central Opercular Cortex',
  'Parietal Operculum Cortex',
  'Planum Polare',
  "Heschl's Gyrus (includes H1 and H2)",
  'Planum Temporale',
  'Supracalcarine Cortex',
  'Occipital Pole',
];

/** Names by image code for an atlas recognised by its file name, or undefined. */
export function knownRegionNames(
  atlasName: string,
  codes: Iterable<number>,
): { names: Map<number, string>; source: string } | undefined {
  const names = new Map<number, string>();
  if (/^HarvardOxford-cort-maxprob/i.test(atlasName)) {
    for (const c of codes) {
      const nm = HARVARD_OXFORD_CORTICAL[c - 1];
      if (nm !== undefined) names.set(c, nm);
    }
    return { names, source: "Harvard-Oxford cortical region list (FSL's order)" };
  }
  if (/brodmann/i.test(atlasName)) {
    for (const c of codes) names.set(c, `BA${c}`);
    return { names, source: 'Brodmann area numbers' };
  }
  return undefined;
}
