import { createHash } from 'node:crypto';
import type { DigestJobData, DigestJobResult } from '#contracts';

/**
 * The work itself, a plain function so it is tested without a queue: SHA-256 of `text`, then of
 * the digest, `rounds` times. Reports progress in whole percents, at most about 20 times.
 */
export async function computeDigest(
  { text, rounds }: DigestJobData,
  onProgress: (percent: number) => Promise<void> = async () => {},
): Promise<DigestJobResult> {
  const step = Math.max(1, Math.floor(rounds / 20));
  let digest = createHash('sha256').update(text).digest('hex');
  for (let round = 1; round < rounds; round++) {
    digest = createHash('sha256').update(digest).digest('hex');
    if (round % step === 0) await onProgress(Math.floor((round / rounds) * 100));
  }
  await onProgress(100);
  return { digest, rounds };
}
