/**
 * @module ui-styles
 * The admin console's stylesheet, served as /admin/console.css (a file of its own: the pages'
 * CSP allows no inline style). Small screens get one column.
 * Standards: CSS.
 * Security: static text.
 * Limitations: one light theme.
 */
export const consoleCss = `
* { box-sizing: border-box; }
body { font: 15px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { display: flex; align-items: baseline; gap: 1em; padding: .6em 1em; background: #1d3557; color: #fff; }
header h1 { font-size: 1.2em; margin: 0; }
nav { display: flex; flex-wrap: wrap; gap: .3em; padding: .5em 1em; background: #e9edf3; }
nav button.logout { margin-left: auto; }
main { padding: 1em; }
button { font: inherit; padding: .25em .7em; border: 1px solid #9aa5b8; border-radius: 4px; background: #fff; cursor: pointer; }
button:hover { background: #eef3ff; }
input, select { font: inherit; padding: .25em .4em; border: 1px solid #9aa5b8; border-radius: 4px; }
form.inline, form.filters { display: flex; flex-wrap: wrap; gap: .4em; margin: .6em 0; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: .6em 0; }
th, td { text-align: left; padding: .3em .5em; border-bottom: 1px solid #dde2ea; vertical-align: top; }
.actions { display: flex; flex-wrap: wrap; gap: .2em; }
.state { padding: 0 .4em; border-radius: 3px; background: #dde2ea; }
.state-deferred { background: #ffe8a3; } .state-held { background: #d6c8ff; } .state-bouncing { background: #ffc9c9; }
#status { padding: 0 1em; min-height: 1.4em; }
#status.error, .error { color: #a4161a; } #status.ok { color: #2b6a2f; }
.chart { margin: 1em 0; max-width: 640px; }
.chart svg { width: 100%; height: auto; background: #fff; border: 1px solid #dde2ea; border-radius: 6px; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 1em; }
.legend li { padding-left: .4em; border-left: 1em solid; }
.legend .series-received { border-color: #2f6fdf; } .legend .series-delivered { border-color: #2b9348; }
.legend .series-deferred { border-color: #e09f3e; } .legend .series-bounced { border-color: #c0392b; }
.figures { display: flex; flex-wrap: wrap; gap: .8em; }
.figure { background: #fff; border: 1px solid #dde2ea; border-radius: 6px; padding: .6em 1em; min-width: 8em; display: flex; flex-direction: column; }
.figure .value { font-size: 1.6em; font-weight: 600; }
ol.timeline { list-style: none; padding-left: 1em; border-left: 3px solid #9aa5b8; }
ol.timeline li { margin: .4em 0; } .step .when { color: #5b6477; margin-right: .6em; }
ul.tree, ul.tree ul { list-style: none; padding-left: 1.4em; border-left: 2px solid #9aa5b8; }
ul.tree .box { display: inline-block; margin: .2em 0; padding: .15em .5em; border: 1px solid #1d3557; border-radius: 4px; background: #fff; }
.node-mailbox > .box { background: #d8f3dc; } .node-remote > .box { background: #dbe9ff; } .node-list > .box { background: #fff3bf; } .node-error > .box { background: #ffc9c9; }
.kind { font-size: .8em; color: #5b6477; text-transform: uppercase; }
pre { white-space: pre-wrap; word-break: break-all; background: #fff; padding: .4em; border: 1px solid #dde2ea; }
#login { max-width: 22em; margin: 4em auto; display: flex; flex-direction: column; gap: .6em; background: #fff; padding: 1.5em; border-radius: 8px; }
#login label { display: flex; flex-direction: column; }
#login-note { text-align: center; color: #a4161a; }
@media (max-width: 40em) { table, thead, tbody, tr, td, th { display: block; } thead { display: none; } td { border: none; } tr { border-bottom: 1px solid #dde2ea; } }
`;
