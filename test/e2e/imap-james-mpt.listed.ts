/**
 * The James MPT scripts that cannot apply to correio, each with its reason (RFC cited), the
 * single commands left out of scripts that otherwise apply, and (`dovecotListed`) the scripts
 * Dovecot does not pass, with theirs. A key of a list is a script path under james-mpt/ (every
 * suite it runs in).
 */
const acl = 'ACL (RFC 4314: MYRIGHTS, GETACL, SETACL, shared #user mailboxes) is not offered and the issue does not ask for it';
const recentReselect =
  'expects \\Recent kept when the same session SELECTs the mailbox again; correio, like Dovecot, gives them to the first selection only (RFC 3501 §2.3.2: "this session is the first session to have been notified"; IMAP4rev2 dropped \\Recent, RFC 9051 Appendix E)';
const examine = 'expects PERMANENTFLAGS listing flags after EXAMINE; correio, like Dovecot, answers PERMANENTFLAGS () in a read-only selection (RFC 9051 §7.1: no flag can be changed permanently there)';
const security = 'expects "* BYE Unknown command." and a closed connection for a malformed command; RFC 9051 §7.1.3 answers a command that cannot be parsed with BAD (tagged, or untagged without a usable tag), as correio and Dovecot do';
const badState = 'expects NO for a command in the wrong state; RFC 9051 §7.1.3: a command not valid in the state is a protocol-level error, BAD (as Dovecot answers)';
const metadata = 'METADATA (RFC 5464) is not offered and the issue does not ask for it';
const saveDate = 'SAVEDATE (RFC 8514) is not offered and the issue does not ask for it';
const peekStale = 'not run by any James suite at this commit (SOURCES.md) and hard-codes the UIDVALIDITY of 2008, which is the server\'s choice (RFC 9051 §2.3.1.1)';

export const listed: ReadonlyMap<string, string> = new Map<string, string>([
  ...[
    'ACLCommandsOnOtherUser.test',
    'ACLCommandsOnOwner.test',
    'Rights.test',
    'ListWithSharedMailbox.test',
    'RenameSharedMailbox.test',
    'SharingAccessL.test',
    'SharingAccessLR.test',
    'SharingAccessLRA.test',
    'SharingAccessLRI.test',
    'SharingAccessLRK.test',
    'SharingAccessLRS.test',
    'SharingAccessLRT.test',
    'SharingAccessLRTE.test',
    'SharingAccessLRW.test',
    'SharingAccessLRX.test',
    'ListPlus.test',
  ].map((f) => [f, acl] as [string, string]),
  ...[
    'CopyI', 'CopyIS', 'CopyIT', 'CopyIW', 'CopyWithoutI', 'CopyWithoutS', 'CopyWithoutT', 'CopyWithoutW', 'RightA', 'RightI', 'RightIS', 'RightIT', 'RightIW', 'RightK', 'RightL',
    'RightR', 'RightRE', 'RightRS', 'RightRT', 'RightRW', 'RightX', 'WithoutRightA', 'WithoutRightE', 'WithoutRightI', 'WithoutRightK', 'WithoutRightL', 'WithoutRightR',
    'WithoutRightS', 'WithoutRightT', 'WithoutRightW', 'WithoutRightX',
  ].map((n) => [`aclIntegration/ACLIntegration${n}.test`, acl] as [string, string]),
  ['SharedMailbox.test', 'expects CREATE #user.boby... refused as another user\'s namespace; correio has one personal namespace (RFC 2342), where that is an ordinary name'],
  ['Namespace.test', 'expects James\'s #private and #user namespaces (RFC 2342 leaves namespaces to the server); correio has one personal namespace ""'],
  ['ListNamespace.test', 'expects the namespace prefix #private listed; correio\'s personal namespace is "" (RFC 2342)'],
  ['Quota.test', 'expects James\'s quota roots (#private&imapuser) and MESSAGE limits; correio offers RFC 9208 QUOTA with its own roots, tested in test/dialogs/imap-quota.txt'],
  ['Metadata.test', metadata],
  ['MetadataWithBinaryData.test', metadata],
  ['MetadataWithLimitation.test', metadata],
  ['ObjectId.test', 'OBJECTID (RFC 8474) is not offered and the issue does not ask for it'],
  ['Replace.test', 'REPLACE (RFC 8508) is not offered and the issue does not ask for it'],
  ['XList.test', 'XLIST is Google\'s pre-standard command, replaced by SPECIAL-USE (RFC 6154), which correio offers'],
  ['Capability.test', 'expects SAVEDATE (RFC 8514) advertised; not offered, and the issue does not ask for it'],
  ['FetchSaveDate.test', saveDate],
  ['FetchNILSaveDate.test', saveDate],
  ['SearchSaveDate.test', saveDate],
  ['CondstoreDisable.test', 'expects CONDSTORE not advertised (a James configuration); correio offers CONDSTORE (RFC 7162), as the issue asks'],
  ['Id.test', 'expects "* ID NIL"; RFC 2971 §3.1 lets the server send its own fields, and correio sends ("name" "correio")'],
  ['AuthenticatePlain.test', 'sends the mechanism as a quoted string and the initial response as a literal (RFC 9051 §9: auth-type is an atom, initial-resp is base64 on the line: BAD), and needs James\'s delegation (authzid ≠ authcid)'],
  ['BadTag.test', security],
  ['BogusCommand.test', security],
  ['IllegalTag.test', security],
  ['JustTag.test', security],
  ['NoCommand.test', security],
  ['NoTag.test', 'expects "* BYE Unknown command." for an empty line; correio passes over an empty line (RFC 9051 §9 gives it no meaning)'],
  ['ValidAuthenticated.test', badState],
  ['ValidNonAuthenticated.test', badState],
  ['ValidSelected.test', badState],
  ['Create.test', 'expects BAD for a name with an empty level ("a..b"); the name is a valid astring, so the refusal is NO (RFC 9051 §6.3.4: "NO - create failure: can\'t create mailbox with that name"), as correio sends with [CANNOT] (RFC 5530)'],
  ['CreateErrorWithLongName.test', 'expects BAD for a too long name; as for Create.test it is NO [CANNOT] (RFC 9051 §6.3.4, RFC 5530)'],
  ['ListWithPercentWildcardInMailboxName.test', 'creates mailboxes with % and * in their names; correio refuses them (the issue: no %/* in CREATE; RFC 9051 §5.1 warns that LIST cannot tell such names from wildcards)'],
  ['ListSpecialChar.test', 'needs mailboxes James\'s suite makes beforehand (Listing suite, in-memory backend only) that the script does not create'],
  ['ListPercentWildcard.test', 'expects a missing parent level listed as \\HasChildren alone, as if it were a mailbox; correio lists it \\NonExistent \\HasChildren (RFC 9051 §7.3.1: \\NonExistent implies \\Noselect; Dovecot says \\Noselect)'],
  ['RenameHierarchy.test', 'expects the missing parent level (alpha of alpha.beta) left out of LIST *; correio lists it \\NonExistent \\HasChildren, as Dovecot lists it \\Noselect (RFC 9051 §6.3.9, §7.3.1)'],
  ['ListSubscribed.test', 'expects INBOX subscribed without a SUBSCRIBE; RFC 9051 §6.3.7 subscribes only on SUBSCRIBE'],
  ['Subscribe.test', 'expects INBOX subscribed without a SUBSCRIBE; RFC 9051 §6.3.7 subscribes only on SUBSCRIBE'],
  ['InboxDeleteMessages.test', 'not run by any James suite (SOURCES.md); RENAME INBOX, which correio refuses with NO [CANNOT] as Dovecot does (RFC 9051 §6.3.6 lets a server refuse it with NO)'],
  ['RenameInbox.test', 'creates INBOX.child and renames INBOX; correio\'s Maildir++ keeps INBOX a leaf and refuses both with NO [CANNOT] (RFC 9051 §6.3.4, §6.3.6)'],
  ['Status.test', 'sends STATUS x (  MESSAGES  ) with spaces inside the parentheses; RFC 9051 §9: status-att list has none, so BAD'],
  ['FetchAllEmptyMailbox.test', 'expects OK for FETCH 1:* in an empty mailbox; RFC 9051 §9 (seq-number): "*" in an empty mailbox is invalid, BAD, as Dovecot and correio answer'],
  ['MoveNoMSG.test', 'expects BAD for UID MOVE of a UID that does not exist; RFC 9051 §6.4.9: a non-existent UID is ignored, so UID MOVE answers OK'],
  ['SearchOptionSave.test', 'expects "* SEARCH 1" for SEARCH RETURN (SAVE); RFC 5182 §2.1: with SAVE alone no result is returned'],
  ['ConcurrentDeleteSelected.test', 'expects "* BYE" in the session whose selected mailbox another session deleted; RFC 9051 §6.3.5 prescribes nothing there, and correio keeps the session'],
  ['PeekMultipartAlternative.test', peekStale],
  ['PeekMultipartMixed.test', peekStale],
  ['PeekMultipartMixedComplex.test', peekStale],
  ['AppendExamineInbox.test', examine],
  ['ExamineEmpty.test', examine],
  ['ExamineReadOnly.test', examine],
  ['AppendSelectInbox.test', recentReselect],
  ['BodyPartialFetch.test', recentReselect],
  ['ExpungeBasics.test', recentReselect],
  ['FetchHeaderFields.test', recentReselect],
  ['FetchHeaderFieldsNot.test', recentReselect],
  ['FetchMultipartAlternative.test', recentReselect],
  ['FetchMultipartMixed.test', recentReselect],
  ['FetchMultipartMixedComplex.test', recentReselect],
  ['HeaderPartialFetch.test', recentReselect],
  ['MimePartialFetch.test', recentReselect],
  ['RenameSelected.test', recentReselect],
  ['TextPartialFetch.test', recentReselect],
  ['Rename.test', recentReselect],
  ['ConcurrentExistsResponse.test', 'expects \\Recent for a new message in every session that has the mailbox selected; RFC 3501 §2.3.2 gives it to one session only, as correio and Dovecot do'],
  ['ConcurrentExpungeUIDToMSNMapping.test', 'expects another session\'s flag change after the EXPUNGEs (numbered after them); correio sends it before them (numbered before them): RFC 9051 §7.4.1 and §7.5 allow either, and the client ends with the same view'],
  ['FetchMultipartBodyStructure.test', 'expects body parameters in James\'s order ("charset" before "name"); correio and Dovecot keep the order of the header (RFC 2045 §5.1: the order of parameters is not significant)'],
  ['FetchStructureComplex.test', 'expects body parameters in James\'s order ("charset" first); correio and Dovecot keep the order of the header (RFC 2045 §5.1)'],
]);

const macroInList = 'FETCH 1 (ALL), (FULL), (FAST): RFC 9051 §9 allows the macros only alone, not in a list, so BAD';
const emptyFetch = 'FETCH 1:* () with an empty list: RFC 9051 §9 needs at least one fetch-att, so BAD (Dovecot: "FETCH list is empty")';

/**
 * Single commands left out of a script (key "path:line" of the C: line), with their replies,
 * where the rest of the script still applies.
 */
export const cuts: ReadonlyMap<string, string> = new Map<string, string>([
  ['FetchMultipartBodyStructure.test:209', emptyFetch],
  ['FetchSimpleBodyStructure.test:92', emptyFetch],
  ['FetchStructureComplex.test:781', emptyFetch],
  ['FetchSingleMessage.test:157', macroInList],
  ['FetchSingleMessage.test:162', macroInList],
  ['FetchSingleMessage.test:167', macroInList],
  ['UidSearchAtoms.test:1976', 'as SearchAtoms.test:1615 (UID SEARCH BODY thy)'],
  ['FetchStructureEmbedded.test:388', 'BODY[4] of a multipart part: James sends 853 octets, correio and Dovecot 855 (the part\'s close-delimiter line with its CRLF; RFC 2046 §5.1.1 gives only the CRLF before the outer boundary to that boundary)'],
  ['SearchAtoms.test:1615', 'SEARCH BODY thy: "Timothy" is in the header of a message/rfc822 part, which is body text of the outer message (RFC 9051 §6.4.4 BODY); correio finds message 5, James does not'],
]);

const dvNoPlugin = (what: string): string => `${what} is not loaded in the test configuration (test/helpers/dovecot-server: no plugins)`;
const dvBye = 'Dovecot ends the session (* BYE Selected mailbox was deleted / Mailbox was deleted under us) when the selected mailbox is deleted or renamed, by this session or another; RFC 9051 §6.3.5 leaves that to the server, James keeps the session';
const dvLenient = (cmd: string): string => `expects BAD for ${cmd} with arguments it does not take (RFC 9051 §9: none); Dovecot ignores them and runs the command`;
const dvConcurrent = (what: string): string => `another session's change: ${what}; RFC 9051 §7.4.1, §5.2 let the server choose when to tell a session of other sessions' changes`;

/**
 * The scripts Dovecot 2.3 (Debian's, test/helpers/dovecot-server's configuration) does not pass,
 * each with where it first differs and why; imap-james-mpt-dovecot fails when one of these passes
 * or another script fails. Where correio's reason holds for Dovecot too it is the same text.
 */
export const dovecotListed: ReadonlyMap<string, string> = new Map<string, string>([
  ...[...listed].filter(([, why]) => why === acl).map(([f]) => [f, dvNoPlugin('ACL (RFC 4314)')] as [string, string]),
  ...['Metadata.test', 'MetadataWithBinaryData.test', 'MetadataWithLimitation.test'].map((f) => [f, dvNoPlugin('METADATA (RFC 5464)')] as [string, string]),
  ['Quota.test', dvNoPlugin('QUOTA (RFC 9208)')],
  ['ObjectId.test', 'OBJECTID (RFC 8474) is not in Dovecot 2.3'],
  ['Replace.test', 'REPLACE (RFC 8508) is not in Dovecot 2.3 (UID REPLACE: unknown command)'],
  ['FetchPartial.test', 'FETCH ... (PARTIAL ...) (RFC 9394) is not in Dovecot 2.3: "Unknown FETCH modifier"'],
  ['FetchNILSaveDate.test', 'expects SAVEDATE NIL (a message without a save date, James\'s backend); Dovecot has a save date for every message it stored (RFC 8514 §4 allows NIL only where the server has none)'],
  ['XList.test', listed.get('XList.test')!],
  ['SharedMailbox.test', 'expects CREATE #user.boby... refused as another user\'s namespace; Dovecot\'s only namespace is the personal "" (RFC 2342), where that is an ordinary name'],
  ['Namespace.test', 'expects James\'s #private and #user namespaces; Dovecot has the personal namespace "" alone (RFC 2342 leaves namespaces to the server)'],
  ['ListNamespace.test', 'expects the namespace prefix #private listed; Dovecot\'s personal namespace is "" (RFC 2342)'],
  ['CondstoreDisable.test', 'expects CONDSTORE not advertised (a James configuration); Dovecot advertises it'],
  ['Id.test', 'expects "* ID NIL"; Dovecot sends ("name" "Dovecot"), as RFC 2971 §3.1 allows'],
  ['AuthenticatePlain.test', 'sends the mechanism as a quoted string ("PLAIN"): Dovecot answers NO [ALERT] Unsupported authentication mechanism (RFC 9051 §9: auth-type is an atom)'],
  ...['BadTag.test', 'BogusCommand.test', 'IllegalTag.test', 'JustTag.test', 'NoCommand.test', 'NoTag.test'].map(
    (f) => [f, 'expects "* BYE Unknown command." and a closed connection for a malformed command; Dovecot answers BAD (RFC 9051 §7.1.3), as correio does'] as [string, string],
  ),
  ['ValidAuthenticated.test', badState],
  ['ValidNonAuthenticated.test', badState],
  ['ValidSelected.test', badState],
  ['Capability.test', dvLenient('CAPABILITY')],
  ['Logout.test', dvLenient('LOGOUT')],
  ['Login.test', 'after two malformed LOGINs Dovecot\'s login process ends the session (* BYE Too many invalid IMAP commands), where James answers the third BAD: Dovecot\'s policy'],
  ['LoginThreeStrikes.test', 'expects * BYE after three failed LOGINs; Dovecot answers NO [AUTHENTICATIONFAILED] each time and keeps the session (its penalty is a delay, not a disconnection): a policy RFC 9051 leaves to the server'],
  ['Create.test', 'expects BAD for a name beginning with the separator; Dovecot answers NO [CANNOT] (RFC 9051 §6.3.4: a name the server cannot create is NO)'],
  ['CreateErrorWithLongName.test', 'expects BAD for a long name James refuses; Dovecot creates it (its limit is longer): RFC 9051 sets no length'],
  ['ListPercentWildcard.test', 'expects a missing parent level listed as \\HasChildren alone; Dovecot lists it \\Noselect \\HasChildren (RFC 9051 §7.3.1), as correio lists it \\NonExistent'],
  ['RenameHierarchy.test', 'expects the LIST "" * lines in James\'s order, not in a SUB block; Dovecot lists them in its own order (RFC 9051 §6.3.9 prescribes none)'],
  ['ListSubscribed.test', listed.get('ListSubscribed.test')!],
  ['Subscribe.test', listed.get('Subscribe.test')!],
  ['InboxDeleteMessages.test', 'not run by any James suite (SOURCES.md); RENAME INBOX, which Dovecot refuses with NO [CANNOT] (RFC 9051 §6.3.6 lets a server refuse it)'],
  ['RenameInbox.test', 'RENAME INBOX: Dovecot answers NO [CANNOT] Renaming INBOX isn\'t supported (RFC 9051 §6.3.6 lets a server refuse it)'],
  ['Status.test', 'STATUS ... DELETED (RFC 9051 §6.3.11, IMAP4rev2) and DELETED-STORAGE (RFC 9208): Dovecot 2.3 answers BAD Invalid status item DELETED'],
  ['StringArgs.test', 'expects STATUS of "InBoX" answered with the name "INBOX"; Dovecot answers with the name as the client sent it (RFC 9051 §5.1: INBOX is case-insensitive, the reply\'s spelling is not prescribed)'],
  ['FetchAllEmptyMailbox.test', listed.get('FetchAllEmptyMailbox.test')!],
  ['MoveNoMSG.test', 'expects BAD for UID MOVE of a UID that does not exist; Dovecot answers OK No messages found (RFC 9051 §6.4.9: a non-existent UID is ignored)'],
  ['SearchOptionSave.test', listed.get('SearchOptionSave.test')!],
  [
    'SearchAtoms.test',
    'SEARCH BODY the: Dovecot leaves out message 5, whose only "the" is in the header of its attached message/rfc822 part, which RFC 9051 §6.4.4 counts as body text of the outer message (correio and James find it)',
  ],
  ['UidSearchAtoms.test', 'as SearchAtoms.test (UID SEARCH BODY the)'],
  ['ComplexMail.test', dvBye],
  ['ConcurrentRenameSelected.test', dvBye],
  ['ConcurrentRenameSelectedSub.test', dvBye],
  ['ConcurrentCrossExpunge.test', dvConcurrent('Dovecot sends no FETCH for a STORE of \\Deleted the other session already set')],
  ['ConcurrentExistsResponse.test', dvConcurrent('Dovecot has not yet told this session of the message another appended when its STORE 1 is parsed, so 1 is an invalid message set (BAD)')],
  ['ConcurrentFetchResponse.test', dvConcurrent('Dovecot tells the flag change at a later command than the script expects')],
  ['ConcurrentExpungeUIDToMSNMapping.test', dvConcurrent('Dovecot sends the other session\'s flag change before the EXPUNGEs, numbered before them (as correio)')],
  [
    'FetchMultipartBodyStructure.test',
    'expects BODY[3.1] of the single-part part 3 (image/png) empty; Dovecot sends part 3\'s content, reading a single-part part as having a part 1, itself, as RFC 9051 §6.4.5 says of a single-part message',
  ],
  ['FetchStructureComplex.test', 'as FetchMultipartBodyStructure.test: BODY[3.1] of a single-part part'],
  ['ListSpecialChar.test', listed.get('ListSpecialChar.test')!],
  ['PeekMultipartAlternative.test', peekStale],
  ['PeekMultipartMixed.test', peekStale],
  ['PeekMultipartMixedComplex.test', peekStale],
  ...[...listed].filter(([, why]) => why === examine || why === recentReselect).map(([f, why]) => [f, why.replace('correio, like Dovecot,', 'Dovecot')] as [string, string]),
]);
