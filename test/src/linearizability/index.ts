// Linearizability checking of recorded znode histories: record with HistoryRecorder, check with
// checkHistory / checkHistoryFile, print with formatCheckResult.
export { HISTORY_FORMAT, HISTORY_FORMAT_VERSION, HistoryFormatError, OP_KINDS, entryPath, makeHistory, parseHistory } from './history.js';
export type { ClientId, History, HistoryEntry, InitialZnodes, OpInput, OpKind, OpOutput, Outcome, ReadOutput, Value } from './history.js';
export { HistoryRecorder } from './recorder.js';
export type { HistoryRecorderOptions, OpId } from './recorder.js';
export { CHECK_DEFAULTS, checkHistory, checkHistoryFile, loadHistoryFile } from './check.js';
export type { CheckOptions, CheckResult, KeyReport, PlacedOp, UnplacedOp, Verdict } from './check.js';
export { describeEntry, formatCheckResult, formatKeyReport } from './report.js';
export type { FormatOptions } from './report.js';
export { sequenceCounter, sequenceParent } from './partition.js';
export { searchLinearization } from './search.js';
export type { PartialLinearization, SearchBudget, SearchModel, SearchOp, SearchResult } from './search.js';
