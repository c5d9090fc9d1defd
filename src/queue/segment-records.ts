/**
 * @module segment-records
 * One segment's whole records, read and parsed for segment-messages.ts: at recovery (a damaged
 * tail copied to corrupt/ and cut off, the envelopes parsed to warm the cache) and for a reader.
 * Standards: none (the record format is segment-log.ts).
 * Security: a trailer that does not parse is skipped (reported at recovery), never trusted.
 * The types segment-messages.ts shares with the store are kept here too.
 * Limitations: reads the whole segment (64 MB at most); the owner's refresh (segment-follower.ts)
 *   reads on from where it stopped instead.
 */
import { join } from 'node:path';
import type { MessageId } from '../core/index.js';
import { scanSegment, setAsideTail, type SegmentRecord } from './segment-log.js';
import { CorruptItem, parseRecordTrailer, type EnvelopeFile } from './spool-format.js';
import type { SpoolPaths } from './spool-layout.js';

/** Where a message held in a segment is. */
export interface SegRef extends SegmentRecord {
  seg: string;
}

/** What a recovery of the segments found and did (merged into the spool's RecoveryReport). */
export interface SegmentRecovery {
  messages: number;
  envelopes: number;
  removed: string[];
  corrupted: string[];
}

/** A whole record of a segment, as the segment index needs it. */
export interface ScannedRec {
  id: MessageId;
  ref: SegRef;
  envelopes: number;
  /** the envelopes themselves, at recovery only */
  file?: EnvelopeFile;
}

/**
 * Reads the records of `segId`; `cut`: a damaged tail is set aside and cut off (recovery, and
 * only while nothing appends to the segment); `withFiles`: the parsed envelopes come along.
 * `end` is where the whole records end.
 */
export async function scanRecords(
  paths: SpoolPaths,
  segId: string,
  cut: boolean,
  withFiles: boolean,
  report: SegmentRecovery,
): Promise<{ recs: ScannedRec[]; end: number }> {
  const path = paths.segment(segId);
  const scan = await scanSegment(path);
  if (scan.problem !== undefined && cut) {
    // never acknowledged (a crash during a commit) or damaged: kept for the operator, cut off
    await setAsideTail(path, scan, join(paths.corrupt, `${segId}.tail.${scan.validEnd}.${Date.now()}`));
    report.corrupted.push(`seg/${segId}: ${scan.problem} at ${scan.validEnd}`);
  }
  const recs: ScannedRec[] = [];
  for (const rec of scan.records) {
    let file: EnvelopeFile;
    try {
      file = parseRecordTrailer(rec.trailer.toString('utf8'));
    } catch (err) {
      if (!(err instanceof CorruptItem)) throw err;
      // a reader leaves it for the owner's recovery to report
      if (withFiles) report.corrupted.push(`seg/${segId}@${rec.offset}: envelopes that do not parse`);
      continue;
    }
    const ref = { seg: segId, offset: rec.offset, bodyLength: rec.bodyLength, trailerLength: rec.trailerLength };
    recs.push({ id: file.messageId, ref, envelopes: file.envelopes.length, ...(withFiles && { file }) });
  }
  return { recs, end: scan.validEnd };
}

/** What an instance knows of the segments: where each live record is, live records per segment. */
export interface SegState {
  index: Map<MessageId, SegRef>;
  live: Map<string, number>;
}

export interface SegmentMessagesOptions {
  /** whether new small messages are appended here (a caching owner, or an acceptor) */
  appends: boolean;
  /** an acceptor process: appends to its own segments only, keeps no index, removes nothing */
  acceptor?: boolean;
  /** the pid new segment ids name (segment-writers.ts); default this process's */
  pid?: number;
  /** whether this instance keeps the index (it changes committed messages) or reloads it per call */
  keepsIndex: boolean;
  /** octets after which a segment takes no more records */
  segmentLimit: number;
  newId: () => string;
}
