/**
 * @module webmail
 * The webmail's server side (issue 16): its page and bundled files, and the sanitised
 * document of a message for the reading frame. The browser code is src/web/webmail-ui.
 * Standards, Security, Limitations: see each module.
 */
export { webmailPageApp, webmailAssetsApp, webmailApiApp, webmailCsp } from './webmail-app.js';
export { messageFrame, frameCsp, frameCss, frameStyleSource, textToHtml, type MessageFrame } from './message-frame.js';
