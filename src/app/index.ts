/**
 * @module app
 * The composition root: config → backends → services.
 * Standards: none. Security: see start-app.ts. Limitations: one process runs every service.
 */
export { startApp, type RunningApp, type StartOptions } from './start-app.js';
export { openBackends, openQueueStore, openMailboxes, mailboxesInPostgres, sharedStorage, spoolDir, mailDir, type Backends, type BackendOptions } from './backends.js';
export { sendControl, controlSocketPath, SocketQueueControl, RequestQueueControl, ControlError, operatorName, type ControlRequest, type Operator, type ControlResponse } from './control.js';
export { loadOrMakeTls } from './tls-files.js';
export { ConfiguredAliases, configuredResolver, makeResolver } from './configured-resolver.js';
export { checks, runChecks, checkAliases, type Check as ConfigCheck, type CheckFinding, type CheckInput } from './config-check.js';
export { listenKeys, type ListenKey } from './listener-checks.js';
export { acquireInstanceLock, findServerPid, instanceLockPath, InstanceLockedError, type InstanceLock } from './instance-lock.js';
export { storageComponents, migrateStorage, storageStatus, describePgUrl } from './storage-schema.js';
export { planPrivileges, assumePrivileges, PrivilegeError, type PrivilegePlan, type Privileges } from './privileges.js';
export { AcceptorStartError } from './acceptor-pool.js';
export { findSystemUser, type SystemUser } from './system-users.js';
export { askPublic, publicSocketPath, verifyAddresses, MAX_LISTED, type PublicResponse, type Verdict } from './public-socket.js';
export { maildropDir, writeMaildrop, type MaildropEnvelope } from './maildrop.js';
export { DkimKeyring, KeyStateError, dkimKeysOf, listDkimKeys, loadSigningKeys, makeDkimKey, setDkimKeyActive } from './dkim-keyring.js';
export { migrateToPostgres, type MigrationReport } from './storage-migration.js';
export { srsSecretPath } from './mail-auth.js';
export { exportToFiles, exportedConfig, type ExportReport } from './storage-export.js';
export { MigrationBusyError, MigrationCheckError } from './storage-copy.js';
export { sendTlsReports, sendDmarcReports, recordTlsResults, dmarcRecorder, submitReport, reportStoreFile } from './daily-reports.js';
export { keepReports, receivedReportsFile } from './report-inbox.js';
