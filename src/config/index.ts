/**
 * @module config
 * TOML → validated, typed Config; errors name file, key and line (DESIGN.md §4).
 * Standards: TOML 1.0. Security: unknown keys are errors. Limitations: see each module.
 */
export type { Config, SmtpConfig, LmtpConfig, WebhookConfig, DeliveryConfig, AuthConfig, MailAuthConfig, LogLevel } from './config.js';
export { ConfigError, loadConfig, parseConfig, defaultConfig, configPath } from './load-config.js';
export type { ConfigErrorKind, LoadConfigOptions, ParseConfigOptions } from './load-config.js';
export { parseListenAddress, parseSocketListenAddress, formatListenAddress } from './listen-address.js';
export type { ListenAddress } from './listen-address.js';
export { defaultSmtpProcesses, isDomainName } from './config-schema.js';
