/**
 * @module log
 * Mail log and metrics. See mail-log.ts.
 * Standards: none. Security: no bodies, no passwords. Limitations: per-process metrics.
 */
export { startMailLog, type MailLog, type LineLogger, type LineOutput } from './mail-log.js';
export { eventText } from './event-text.js';
export { BatchedOutput, type BatchedOutputOptions } from './batched-output.js';
export { startMetrics, type Metrics, type MetricsSources } from './metrics.js';
export { formatTextLine, textWanted } from './text-line.js';
export { startActivity, MinuteCounts, activityKinds, type Activity, type ActivityKind, type ActivityMinute } from './activity.js';
export { DeliveryHistory, appendHistory, findByMessageIdField, findHistory, historyDir, historyEvents, type HistoryEvent, type DeliveryHistoryOptions } from './delivery-history.js';
export { adminLogPath, appendAdminLog, startAdminLog } from './admin-log.js';
