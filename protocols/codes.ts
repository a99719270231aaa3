/**
 * The catalogue of every error code of meterledger, one entry each: what kind of error it
 * is, what it means, whether the same input can pass later, and the HTTP status the API
 * answers it with where it reaches HTTP. CodedError takes only a `Code`, so a code that is
 * not here does not compile; docs/errors.md is generated from this table (errorsMarkdown(),
 * `npm run docs:errors`) and a unit test keeps both in step with the source tree.
 */

/**
 * reason: a refusal of a reading or transaction (the meter, the API and the metric label
 * see it); proof: what an offline checker or the audit reports; protocol: bytes that break
 * a wire format of docs/protocol.md; p2p: a peer message dropped or a peer request failed;
 * node, store, fs, config: the node, its store, the disk and its configuration; http: the
 * HTTP API; cli, sim, bridge, portal: the command line, the simulator, the XMPP bridge's
 * connection, the owner portal.
 */
export type CodeKind = 'reason' | 'proof' | 'protocol' | 'p2p' | 'node' | 'store' | 'fs' | 'config' | 'http' | 'cli' | 'sim' | 'bridge' | 'portal';

/**
 * final: the same input fails again, do not resend it; retry: transient, the same input
 * may pass later; fix-input: change the input (message, request, file, setting) and try again.
 */
export type CodeRetry = 'final' | 'retry' | 'fix-input';

export interface CodeInfo {
  readonly kind: CodeKind;
  readonly retry: CodeRetry;
  /** The HTTP status the API answers with, for the codes that reach HTTP. */
  readonly http?: number;
  /** One line: what went wrong. */
  readonly meaning: string;
}

export const Codes = {
  E_ACCOUNT_BALANCE_LIMIT: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A credit would take a balance above 2^63-1 minor units.' },
  E_ACCOUNT_EXISTS: { kind: 'reason', retry: 'final', http: 422, meaning: 'An account with this id is already open.' },
  E_ACCOUNT_INSUFFICIENT_FUNDS: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A withdrawal exceeds the account\'s balance.' },
  E_ACCOUNT_KEY_EPOCH: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'An account key rotation does not carry the current key epoch + 1.' },
  E_ACCOUNT_NOT_FOUND: { kind: 'http', retry: 'final', http: 404, meaning: 'No such account.' },
  E_ACCOUNT_UNKNOWN: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'No account with this id is open.' },
  E_ADDR_IN_USE: { kind: 'config', retry: 'fix-input', meaning: 'A listener cannot start: its port is in use by another program.' },
  E_AGREEMENT_BILLED: { kind: 'reason', retry: 'final', http: 422, meaning: 'An agreement would take effect inside a period of the meter that is already billed.' },
  E_AGREEMENT_LIMIT: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A meter has as many agreements as allowed (256).' },
  E_AGREEMENT_NOT_BILLER: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'An agreement replaces or ends one set by another biller.' },
  E_AMOUNT_INVALID: { kind: 'cli', retry: 'fix-input', meaning: 'An amount on the command line is not whole minor units or a decimal of the currency within its decimals, from 1 to 2^63-1 minor units.' },
  E_AUDIT_BALANCE: { kind: 'proof', retry: 'final', meaning: 'The audit: a stored balance is not what the chain\'s transactions make it.' },
  E_AUDIT_BILL: { kind: 'proof', retry: 'final', meaning: 'The audit: a stored bill is not what the engine computes from the chain\'s readings, agreements and tariffs.' },
  E_AUDIT_CAP: { kind: 'proof', retry: 'final', meaning: 'The audit: payments under a mandate exceed its cap per bill or per month.' },
  E_AUDIT_CONSERVATION: { kind: 'proof', retry: 'final', meaning: 'The audit: the sum of balances is not deposits minus withdrawals.' },
  E_AUDIT_PAYMENT: { kind: 'proof', retry: 'final', meaning: 'The audit: a bill was paid more than once, or a stored payment is not what the chain\'s payment made.' },
  E_BAD_ANSWER: { kind: 'portal', retry: 'fix-input', meaning: 'The portal got an answer from the gateway that is not JSON.' },
  E_BILLING_OFF: { kind: 'cli', retry: 'final', meaning: 'The chain has no currency in genesis: billing is off.' },
  E_BILLS_MESSAGE_MALFORMED: { kind: 'protocol', retry: 'fix-input', meaning: 'A message on the bills topic is not the deterministic CBOR of its schema.' },
  E_BILL_AGREEMENTS_INVALID: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'Agreements are ill-formed or two take effect at the same instant.' },
  E_BILL_ALREADY_PAID: { kind: 'reason', retry: 'final', http: 422, meaning: 'The bill is paid already.' },
  E_BILL_CONFIDENTIAL: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A bill of a confidential meter carries no disclosures (docs/billing.md §17.2).' },
  E_BILL_DISCLOSED_VALUE: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A bill states a disclosed reading\'s value other than the one its content key opens (§17.2).' },
  E_BILL_DISCLOSURES: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A bill\'s disclosures are not exactly the readings it needs, or a clear meter\'s bill carries some (§17.2).' },
  E_BILL_EXISTS: { kind: 'reason', retry: 'final', http: 422, meaning: 'The meter already has a bill for this period.' },
  E_BILL_HEIGHT: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The height a bill names as computed at is not below the block\'s height.' },
  E_BILL_INVALID: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A bill (JSON or CBOR) breaks the schema or is not in canonical form.' },
  E_BILL_MISMATCH: { kind: 'reason', retry: 'final', http: 422, meaning: 'A submitted bill differs from the recomputed one; `field` names the first difference.' },
  E_BILL_NOTHING_DUE: { kind: 'reason', retry: 'final', http: 422, meaning: 'The bill\'s total is zero or negative: nothing is due, no payment is taken.' },
  E_BILL_NOT_BILLER: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The signer did not publish a tariff the bill uses, or did not issue the bill it answers.' },
  E_BILL_NOT_FOUND: { kind: 'http', retry: 'final', http: 404, meaning: 'No committed bill of this meter for this period.' },
  E_BILL_NOT_READY: { kind: 'reason', retry: 'retry', http: 422, meaning: 'No committed reading at or after the period\'s end: the bill cannot be final yet.' },
  E_BILL_NO_ACCOUNT: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The meter\'s owner is not an open account.' },
  E_BILL_NO_AGREEMENT: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'No agreement puts a tariff in force at any instant of the period.' },
  E_BILL_NO_TARIFF: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'An agreement names a tariff that has no version in force at an instant it covers.' },
  E_BILL_OVERFLOW: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'An energy, amount or total leaves the range -(2^53-1) .. 2^53-1.' },
  E_BILL_OVERLAP: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The period starts before the end of a period of the meter already billed.' },
  E_BILL_PERIOD_INVALID: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A period label or cycle rule is not valid.' },
  E_BILL_PERIOD_OPEN: { kind: 'reason', retry: 'retry', http: 422, meaning: 'The period has not ended by the block\'s time.' },
  E_BILL_READINGS_INVALID: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A reading given to the engine is ill-formed, of another meter, or repeats a seq.' },
  E_BILL_UNKNOWN: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'No bill of this meter for this period.' },
  E_BLOCK_MALFORMED: { kind: 'protocol', retry: 'fix-input', meaning: 'A block or block header is not the deterministic CBOR of its schema.' },
  E_BLOCK_NOT_FOUND: { kind: 'http', retry: 'final', http: 404, meaning: 'No block at this height.' },
  E_BUNDLE_GENESIS: { kind: 'proof', retry: 'final', meaning: 'A bundle names another genesis (hash or chain id) than the one trusted.' },
  E_BUNDLE_INCOMPLETE: { kind: 'proof', retry: 'final', meaning: 'A reading the bill names has no receipt in the bundle, or one that the bill does not name is there.' },
  E_BUNDLE_MALFORMED: { kind: 'proof', retry: 'final', meaning: 'A bundle is not the JSON of docs/billing.md §22.1 (a field missing, of another type, a receipt not CBOR).' },
  E_BUNDLE_RECEIPT: { kind: 'proof', retry: 'final', meaning: 'A receipt of the bundle does not verify against the genesis (E_RECEIPT_INVALID\'s reason follows).' },
  E_BUNDLE_WRONG_TX: { kind: 'proof', retry: 'final', meaning: 'A receipt holds a transaction the bundle may not use there: another type, meter or tariff, or committed too late.' },
  E_CARD_INVALID: { kind: 'cli', retry: 'fix-input', meaning: 'A key card (what meterledger keygen --json prints) cannot be read or is not the card asked for.' },
  E_CHAIN_FORK: { kind: 'store', retry: 'final', meaning: 'The audit: a stored block does not link to its parent or is not the block its commit signs.' },
  E_CONFIG_INVALID: { kind: 'config', retry: 'fix-input', meaning: 'A configuration value (file, environment or flag) is invalid; the message names the field.' },
  E_CONF_AUTH_FAILED: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'AES-GCM or HPKE authentication failed: tampered ciphertext, tag or AAD, or a wrong key.' },
  E_CONF_BAD_DISCLOSURE_KEY: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A disclosed content key is not the key the reading commits to (its kid).' },
  E_CONF_KEY_MISMATCH: { kind: 'reason', retry: 'final', http: 422, meaning: 'An opened key is not the one its id or commitment names: the meter wrapped or used another key.' },
  E_CONF_MALFORMED: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A sealed reading, period key, recipient key or disclosure breaks its format (§11).' },
  E_CONF_MODE_MISMATCH: { kind: 'reason', retry: 'final', http: 422, meaning: 'A clear reading of a confidential meter, or a sealed reading of a clear one.' },
  E_CONF_NONCE_REUSED: { kind: 'reason', retry: 'final', http: 422, meaning: 'A sealed reading reuses the content key and IV of an earlier one for other bytes.' },
  E_CONF_NOT_RECIPIENT: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The key offered is not among a period key\'s recipients.' },
  E_CONF_UNKNOWN_KEY: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A sealed reading names a period key (kid context) its meter never published.' },
  E_CONF_WRONG_RECIPIENTS: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A period key is not wrapped to exactly the recipients registered for the meter.' },
  E_CONSENSUS_HALTED: { kind: 'node', retry: 'final', meaning: 'Consensus stopped: a step that must not fail failed; the node signs nothing more.' },
  E_CONSENSUS_STATE_CORRUPT: { kind: 'store', retry: 'final', meaning: 'The persisted consensus record (signed messages) cannot be read back.' },
  E_CREDIT_EXCEEDS_BILL: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'Credit notes would exceed the bill\'s absolute total.' },
  E_CREDIT_INSUFFICIENT_FUNDS: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The payee\'s balance is below the credit note\'s amount.' },
  E_DATADIR_EXISTS: { kind: 'node', retry: 'final', meaning: 'The data dir already holds a chain (or another genesis).' },
  E_DATADIR_NOT_EMPTY: { kind: 'node', retry: 'fix-input', meaning: 'The data dir holds files but no genesis.json.' },
  E_DISPUTE_EXISTS: { kind: 'reason', retry: 'final', http: 422, meaning: 'The bill has an open dispute already.' },
  E_DISPUTE_UNKNOWN: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The bill has no open dispute to reject.' },
  E_DRAFT_EXISTS: { kind: 'cli', retry: 'final', meaning: 'A genesis draft file of that name already exists.' },
  E_DRAFT_INVALID: { kind: 'cli', retry: 'fix-input', meaning: 'A genesis draft breaks its format.' },
  E_DRAFT_MISSING: { kind: 'cli', retry: 'fix-input', meaning: 'A genesis draft file cannot be read.' },
  E_ENROL_BAD_CODE: { kind: 'http', retry: 'fix-input', http: 401, meaning: 'The enrolment code is unknown, wrong or used.' },
  E_ENROL_BAD_KEY: { kind: 'http', retry: 'fix-input', http: 400, meaning: 'An enrolment\'s public key is not a P-256 point in SEC1 form.' },
  E_ENROL_CODES_CORRUPT: { kind: 'fs', retry: 'fix-input', meaning: 'The gateway\'s enrolment-codes.json is not JSON or holds a malformed entry.' },
  E_ENROL_DISABLED: { kind: 'http', retry: 'final', http: 403, meaning: 'Enrolment is off: this gateway holds no registrar key.' },
  E_ENROL_EXPIRED: { kind: 'http', retry: 'fix-input', http: 401, meaning: 'The enrolment code has expired.' },
  E_ENROL_LOCKED: { kind: 'http', retry: 'fix-input', http: 403, meaning: 'Too many wrong tries: the account\'s enrolment code is locked until the operator makes a new one.' },
  E_ENROL_REFUSED: { kind: 'http', retry: 'final', http: 422, meaning: 'The ledger refused the account key rotation an enrolment submitted.' },
  E_ENROL_TIMEOUT: { kind: 'http', retry: 'retry', http: 504, meaning: 'The enrolment\'s key rotation was accepted but not committed in time; it may still commit.' },
  E_EVENTS_BACKLOG_EXCEEDED: { kind: 'http', retry: 'fix-input', meaning: 'An event stream asked to resume further back than the backlog holds.' },
  E_FS_FULL: { kind: 'fs', retry: 'fix-input', meaning: 'A file-system call failed: no space left on device.' },
  E_FS_IO: { kind: 'fs', retry: 'retry', meaning: 'A file-system call failed: input/output error (a failing disk?)' },
  E_FS_IS_DIRECTORY: { kind: 'fs', retry: 'fix-input', meaning: 'A file-system call failed: is a directory.' },
  E_FS_NOT_FOUND: { kind: 'fs', retry: 'final', meaning: 'A file-system call failed: no such file or directory.' },
  E_FS_PERMISSION: { kind: 'fs', retry: 'fix-input', meaning: 'A file-system call failed: permission denied.' },
  E_FS_READ_ONLY: { kind: 'fs', retry: 'fix-input', meaning: 'A file-system call failed: read-only file system.' },
  E_FS_TOO_MANY_FILES: { kind: 'fs', retry: 'retry', meaning: 'A file-system call failed: too many open files (raise LimitNOFILE / ulimit -n)' },
  E_GATEWAY_BUSY: { kind: 'reason', retry: 'retry', http: 503, meaning: 'The gateway cannot accept now (backlog full, store unavailable); retry later.' },
  E_GENESIS_DRAFT: { kind: 'cli', retry: 'fix-input', meaning: 'A genesis draft was given where a finished genesis is needed.' },
  E_GENESIS_DUPLICATE: { kind: 'cli', retry: 'final', meaning: 'A genesis draft would hold one id or one public key twice.' },
  E_GENESIS_EXISTS: { kind: 'cli', retry: 'final', meaning: 'A genesis file of that name already exists; it is never overwritten.' },
  E_GENESIS_INVALID: { kind: 'protocol', retry: 'fix-input', meaning: 'A genesis breaks its schema; the message names the field.' },
  E_GENESIS_MISMATCH: { kind: 'config', retry: 'final', meaning: 'The genesis does not have the hash that was agreed (genesisHash).' },
  E_GENESIS_MISSING: { kind: 'node', retry: 'fix-input', meaning: 'No genesis file where one is needed.' },
  E_HTTP_ADMIN_DISABLED: { kind: 'http', retry: 'fix-input', http: 403, meaning: 'Admin endpoints (POST, the fleet view) are disabled: the gateway runs without an admin token.' },
  E_HTTP_BAD_BODY: { kind: 'http', retry: 'fix-input', http: 400, meaning: 'The request body is invalid.' },
  E_HTTP_BAD_PARAM: { kind: 'http', retry: 'fix-input', http: 400, meaning: 'A parameter is invalid.' },
  E_HTTP_BODY_TOO_LARGE: { kind: 'http', retry: 'fix-input', http: 413, meaning: 'The request body exceeds 64 KiB.' },
  E_HTTP_FORBIDDEN: { kind: 'http', retry: 'fix-input', http: 403, meaning: 'The admin token is wrong.' },
  E_HTTP_INTERNAL: { kind: 'http', retry: 'retry', http: 500, meaning: 'A handler failed unexpectedly (a bug); the gateway log says what.' },
  E_HTTP_METHOD_NOT_ALLOWED: { kind: 'http', retry: 'fix-input', http: 405, meaning: 'Method not allowed on this route.' },
  E_HTTP_NOT_FOUND: { kind: 'http', retry: 'final', http: 404, meaning: 'No such route.' },
  E_HTTP_NOT_READY: { kind: 'http', retry: 'retry', http: 503, meaning: 'The gateway is not ready (starting, or its node stopped).' },
  E_HTTP_RATE_LIMITED: { kind: 'http', retry: 'retry', http: 429, meaning: 'Too many requests from this source or for this account.' },
  E_HTTP_STATUS: { kind: 'cli', retry: 'fix-input', meaning: 'The CLI got an unexpected HTTP status from the gateway.' },
  E_HTTP_TOO_MANY_STREAMS: { kind: 'http', retry: 'retry', http: 503, meaning: 'Too many open event streams.' },
  E_HTTP_UNAUTHORIZED: { kind: 'http', retry: 'fix-input', http: 401, meaning: 'The request needs Authorization: Bearer <admin token> and has none.' },
  E_HTTP_UNREACHABLE: { kind: 'cli', retry: 'retry', meaning: 'The CLI cannot reach the gateway over HTTP.' },
  E_HTTP_UNSUPPORTED_MEDIA_TYPE: { kind: 'http', retry: 'fix-input', http: 415, meaning: 'The body is neither application/cbor (raw bytes) nor text/plain (hex).' },
  E_INTERNAL: { kind: 'node', retry: 'final', meaning: 'An error without a code of ours (a bug); the message says what.' },
  E_IO: { kind: 'cli', retry: 'fix-input', meaning: 'A file cannot be read or written (a system error without an E_FS_ cause).' },
  E_KEY_ERASED: { kind: 'config', retry: 'final', meaning: 'A recipient key file was erased (docs/protocol.md §11.8): the period keys wrapped to it cannot be opened with it any more.' },
  E_KEY_EXISTS: { kind: 'config', retry: 'final', meaning: 'A key file of that name already exists; it is never overwritten.' },
  E_KEY_INVALID: { kind: 'config', retry: 'fix-input', meaning: 'A key file is not a key of a supported type and format.' },
  E_KEY_MISSING: { kind: 'config', retry: 'fix-input', meaning: 'A key file is not there.' },
  E_KEY_PERMISSIONS: { kind: 'config', retry: 'fix-input', meaning: 'A key file or its folder is readable or writable by others (chmod 600 / go-w).' },
  E_LEDGER_DISABLED: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The chain\'s genesis has no currency: transactions of types 6-19 are refused.' },
  E_LISTEN: { kind: 'config', retry: 'fix-input', meaning: 'A listener cannot start: the host is not an address of this machine, or no permission for the port.' },
  E_MANDATE_EXPIRED: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A mandate\'s expiry is not after the block\'s time.' },
  E_MANDATE_METER_NOT_OWNED: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A mandate lists a meter its account does not own.' },
  E_MANDATE_UNKNOWN: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'No mandate of this account for this payee.' },
  E_METER_NOT_FOUND: { kind: 'http', retry: 'final', http: 404, meaning: 'No such meter.' },
  E_NETWORK: { kind: 'portal', retry: 'retry', meaning: 'The portal got no answer from the gateway.' },
  E_NOT_IN_GENESIS: { kind: 'config', retry: 'fix-input', meaning: 'This node\'s key is no validator or observer of the genesis.' },
  E_NOT_OPERATOR: { kind: 'cli', retry: 'fix-input', meaning: 'The data dir\'s operator key is not the key of an operator in genesis.' },
  E_NO_CHAIN: { kind: 'cli', retry: 'fix-input', meaning: 'The data dir holds no chain (no genesis.json).' },
  E_NO_GENESIS: { kind: 'config', retry: 'fix-input', meaning: 'The data dir has no genesis.json but needs one (a pinned genesisHash, or keys already made).' },
  E_NO_PEERS: { kind: 'config', retry: 'fix-input', meaning: 'A chain of several validators (or an observer) without nats.servers to reach the others.' },
  E_P2P_AUTH: { kind: 'p2p', retry: 'fix-input', meaning: 'The server refused our credentials.' },
  E_P2P_BAD_SIGNATURE: { kind: 'p2p', retry: 'final', meaning: 'The signature does not verify with the sender\'s genesis key.' },
  E_P2P_CLOSED: { kind: 'p2p', retry: 'retry', meaning: 'The transport was closed.' },
  E_P2P_CONFIG: { kind: 'p2p', retry: 'fix-input', meaning: 'Bad options (ids, keys, URLs).' },
  E_P2P_DISCONNECTED: { kind: 'p2p', retry: 'retry', meaning: 'Not connected to any server right now.' },
  E_P2P_MALFORMED: { kind: 'p2p', retry: 'final', meaning: 'Not an envelope of this version (framing, lengths, domain, kind or ids wrong), or a payload not of its format (docs/protocol.md §12.6-§12.8).' },
  E_P2P_MISADDRESSED: { kind: 'p2p', retry: 'final', meaning: 'Addressed to another peer, or a kind on a subject that does not carry it.' },
  E_P2P_NO_RESPONDERS: { kind: 'p2p', retry: 'retry', meaning: 'Nobody listens on the request subject.' },
  E_P2P_REPLAY: { kind: 'p2p', retry: 'final', meaning: 'An envelope we have already taken (a replay, or a duplicate delivery).' },
  E_P2P_STALE: { kind: 'p2p', retry: 'final', meaning: 'Dated outside the time window around our clock, or older than the replay cache remembers.' },
  E_P2P_TIMEOUT: { kind: 'p2p', retry: 'retry', meaning: 'A request got no valid answer in time.' },
  E_P2P_TLS: { kind: 'p2p', retry: 'fix-input', meaning: 'We refused the server\'s certificate.' },
  E_P2P_TOO_LARGE: { kind: 'p2p', retry: 'final', meaning: 'Larger than MAX_PEER_ENVELOPE_BYTES.' },
  E_P2P_UNKNOWN_PEER: { kind: 'p2p', retry: 'final', meaning: 'The sender is not a validator or observer of genesis (or is ourselves).' },
  E_P2P_WRONG_CHAIN: { kind: 'p2p', retry: 'final', meaning: 'Signed for another chain.' },
  E_PASSWORD_FILE: { kind: 'cli', retry: 'fix-input', meaning: 'A line of the XMPP simulator password file is not "meterId password", or repeats a meter.' },
  E_PAYMENT_AMOUNT: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The payment\'s amount is not the amount due.' },
  E_PAYMENT_CAP_EXCEEDED: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The amount is above the mandate\'s cap per bill (`field` capPerBill) or what is left of its month (capPerMonth).' },
  E_PAYMENT_INSUFFICIENT_FUNDS: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The paying account\'s balance is below the amount.' },
  E_PAYMENT_MANDATE_EXPIRED: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The mandate expired before the block\'s time.' },
  E_PAYMENT_METER_NOT_ALLOWED: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The mandate does not list the paying meter, or the meter no longer belongs to the bill\'s account.' },
  E_PAYMENT_NO_MANDATE: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A meter or autopay payment without a mandate of the bill\'s account for the bill\'s payee.' },
  E_PORTAL_FORK: { kind: 'portal', retry: 'final', meaning: 'The gateway serves a block header other than the one this browser verified and cached for that height under the same genesis.' },
  E_PORTAL_NOT_BUILT: { kind: 'http', retry: 'retry', http: 503, meaning: 'The owner portal is not built (npm run build).' },
  E_PORTAL_NOT_COMMITTED: { kind: 'portal', retry: 'retry', meaning: 'The portal\'s transaction was accepted but not seen committed in time.' },
  E_PORTAL_NO_KEY: { kind: 'portal', retry: 'fix-input', meaning: 'This browser holds no key for the account: enrol it first.' },
  E_READING_BAD_ALG: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The signature algorithm is not Ed25519 (-8) or ES256 (-7), or differs from the meter\'s key.' },
  E_READING_BAD_SIGNATURE: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The signature does not verify with the meter\'s current registered key.' },
  E_READING_MALFORMED: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The bytes are not a COSE_Sign1 (tag 18) in deterministic CBOR.' },
  E_READING_METER_REVOKED: { kind: 'reason', retry: 'final', http: 422, meaning: 'The meter was revoked by an operator.' },
  E_READING_RATE_LIMITED: { kind: 'reason', retry: 'retry', http: 429, meaning: 'The meter sends faster than its allowed rate.' },
  E_READING_SCHEMA: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The payload decodes but breaks the schema (missing or ill-typed field).' },
  E_READING_SEQ_REPLAY: { kind: 'reason', retry: 'final', http: 422, meaning: 'The sequence number is not above the last accepted one for this meter.' },
  E_READING_TIME_SKEW: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The reading\'s time is outside the accepted window around the gateway\'s clock.' },
  E_READING_TOO_LARGE: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The message is larger than the configured limit.' },
  E_READING_UNKNOWN_METER: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'No meter with this id is registered.' },
  E_READING_WRONG_METER: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'The reading came in on a topic or session of another meter.' },
  E_RECEIPT_INVALID: { kind: 'protocol', retry: 'fix-input', meaning: 'A receipt does not verify against the genesis; the message names what failed.' },
  E_RECEIPT_MALFORMED: { kind: 'protocol', retry: 'fix-input', meaning: 'A receipt is not the deterministic CBOR of its schema.' },
  E_RECEIPT_NOT_AUTHORIZED: { kind: 'reason', retry: 'final', meaning: 'A meter asked for a receipt that is not one of its own readings, or on another meter\'s topic.' },
  E_RECEIPT_NOT_FOUND: { kind: 'reason', retry: 'final', http: 404, meaning: 'No committed reading with this sequence number or transaction hash (HTTP, or a receipt request on MQTT).' },
  E_RECEIPT_REQUEST_MALFORMED: { kind: 'reason', retry: 'fix-input', meaning: 'A receipt request is not {1: seq} or {5: txHash} in deterministic CBOR (protocol.md §8.3.1).' },
  E_SESSION_BAD_CHALLENGE: { kind: 'http', retry: 'fix-input', http: 401, meaning: 'The session challenge is unknown, used, expired or for another account.' },
  E_SESSION_BAD_SIGNATURE: { kind: 'http', retry: 'fix-input', http: 401, meaning: 'The session signature does not verify with the account\'s current key (docs/http-api.md §Sessions).' },
  E_SESSION_BUSY: { kind: 'http', retry: 'retry', http: 503, meaning: 'Too many open session challenges.' },
  E_SESSION_EXPIRED: { kind: 'http', retry: 'fix-input', http: 401, meaning: 'The owner\'s session expired: sign in again.' },
  E_SESSION_INVALID: { kind: 'http', retry: 'fix-input', http: 401, meaning: 'The bearer token is neither the admin token nor a live session.' },
  E_SESSION_NOT_YOURS: { kind: 'http', retry: 'fix-input', http: 403, meaning: 'This session\'s account may not read or do this.' },
  E_SESSION_REVOKED: { kind: 'http', retry: 'final', http: 401, meaning: 'The account\'s key was rotated since this session opened.' },
  E_SIM_BUSY: { kind: 'sim', retry: 'retry', meaning: 'Another simulator drives the meters of this data dir.' },
  E_SIM_CONNECT: { kind: 'sim', retry: 'retry', meaning: 'A simulated meter cannot connect to the broker.' },
  E_SIM_NO_METERS: { kind: 'sim', retry: 'fix-input', meaning: 'The simulator has no (or too few) meter keys.' },
  E_SIM_UNKNOWN_METER: { kind: 'sim', retry: 'fix-input', meaning: 'The gateway knows no meter of that id.' },
  E_STORE_CLOSED: { kind: 'store', retry: 'fix-input', meaning: 'The store is closed.' },
  E_STORE_CORRUPT: { kind: 'store', retry: 'final', meaning: 'The store is inconsistent: an index points to data it does not hold.' },
  E_STORE_LAYOUT: { kind: 'store', retry: 'final', meaning: 'The store has a layout version this version does not read.' },
  E_STORE_LOCKED: { kind: 'store', retry: 'retry', meaning: 'The store is open in another program (or handle).' },
  E_STORE_MISSING: { kind: 'store', retry: 'fix-input', meaning: 'No store at the path.' },
  E_STORE_OPEN: { kind: 'store', retry: 'fix-input', meaning: 'The store cannot be opened.' },
  E_STORE_WRONG_CHAIN: { kind: 'store', retry: 'final', meaning: 'The store belongs to another genesis.' },
  E_TARIFF_CONFLICT: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'Two versions of one tariff take effect at the same instant.' },
  E_TARIFF_CURRENCY: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A tariff\'s currency is not the chain\'s currency.' },
  E_TARIFF_DUPLICATE: { kind: 'reason', retry: 'final', http: 422, meaning: 'This tariff version (same content id) is already published.' },
  E_TARIFF_FILE: { kind: 'cli', retry: 'fix-input', meaning: 'The tariff file cannot be read.' },
  E_TARIFF_INVALID: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A tariff (JSON or decoded CBOR) breaks the schema; `field` names the field.' },
  E_TARIFF_JSON: { kind: 'cli', retry: 'fix-input', meaning: 'The tariff file is not JSON.' },
  E_TARIFF_LIMIT: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A tariff has as many versions as allowed (256).' },
  E_TARIFF_MALFORMED: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'Tariff bytes are not deterministic CBOR, or not the canonical encoding of what they hold.' },
  E_TARIFF_NOT_FOUND: { kind: 'http', retry: 'final', http: 404, meaning: 'No such tariff or tariff version.' },
  E_TARIFF_NOT_OWNER: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A tariff name belongs to another biller.' },
  E_TARIFF_RETROACTIVE: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A tariff version would take effect before the block\'s time.' },
  E_TARIFF_UNKNOWN: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'No tariff of this name is published.' },
  E_TEST_HOOK_REFUSED: { kind: 'config', retry: 'fix-input', meaning: 'A test-only hook (METERLEDGER_TEST_...) is set on a chain that is not a dev or testnet chain, or its setting is invalid.' },
  E_TRANSFER_DUPLICATE: { kind: 'reason', retry: 'final', http: 422, meaning: 'A deposit or withdrawal repeats a custodian\'s external reference: it was applied once already.' },
  E_TX_CONFLICT: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'An operator transaction conflicts with state (meter exists, wrong key epoch...).' },
  E_TX_NOT_FOUND: { kind: 'http', retry: 'final', http: 404, meaning: 'No committed transaction with this hash.' },
  E_TX_NOT_OPERATOR: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'An operator transaction is not signed by an operator key listed in genesis.' },
  E_TX_NOT_OWNER: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'An owner\'s transaction is not signed by the key of the account it acts for.' },
  E_TX_ROLE: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'An operator signed a transaction its genesis roles do not allow (registrar, biller, custodian).' },
  E_TX_STALE: { kind: 'reason', retry: 'final', http: 422, meaning: 'A transaction\'s time is not after the time of the last one that set the same record (a replay).' },
  E_UNTRUSTED_GENESIS: { kind: 'portal', retry: 'fix-input', meaning: 'The portal has no trusted genesis to check against.' },
  E_USAGE: { kind: 'cli', retry: 'fix-input', meaning: 'Wrong command line: unknown command or flag, a missing argument.' },
  E_VALSET_APPROVAL: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A validator-set change without approvals of more than 2/3 of the current power, or with a bad one.' },
  E_VALSET_CHANGES_MISMATCH: { kind: 'proof', retry: 'final', meaning: 'The validator-set changes a gateway serves are not the changes its chain holds (one left out, added or different).' },
  E_VALSET_HEIGHT_UNKNOWN: { kind: 'http', retry: 'retry', http: 404, meaning: 'The validator set of this height is not known yet (above the head + 2).' },
  E_VALSET_INVALID: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A validator-set change that cannot apply to the set (unknown or existing id, key in use, power out of range).' },
  E_VALSET_SEQ: { kind: 'reason', retry: 'fix-input', http: 422, meaning: 'A validator-set change whose number is not the next of the chain\'s sequence of changes.' },
  E_XMPP_AUTH: { kind: 'bridge', retry: 'fix-input', meaning: 'The XMPP server refused our login.' },
  E_XMPP_CONNECT: { kind: 'bridge', retry: 'retry', meaning: 'Cannot connect or log in to the XMPP server.' },
  E_XMPP_TLS_REQUIRED: { kind: 'bridge', retry: 'fix-input', meaning: 'The XMPP server offers no STARTTLS and plaintext is not allowed.' },
} as const satisfies Record<`E_${string}`, CodeInfo>;

/** Every error code there is. */
export type Code = keyof typeof Codes;

export const ALL_CODES: readonly Code[] = Object.keys(Codes) as Code[];

export const isCode = (s: unknown): s is Code => typeof s === 'string' && Object.hasOwn(Codes, s);

const KIND_TITLES: Readonly<Record<CodeKind, string>> = {
  reason: 'Refusals of a reading or transaction (reason codes)',
  proof: 'Offline proofs and the audit',
  protocol: 'Wire formats',
  p2p: 'Peer-to-peer',
  node: 'The node',
  store: 'The store',
  fs: 'The file system',
  config: 'Configuration and keys',
  http: 'The HTTP API',
  cli: 'The command line',
  sim: 'The simulator',
  bridge: 'The XMPP bridge',
  portal: 'The owner portal',
};

/** docs/errors.md: the catalogue as Markdown, one table per kind, codes sorted. */
export function errorsMarkdown(): string {
  const lines = [
    '# Error codes',
    '',
    '<!-- Generated from protocols/codes.ts by `npm run docs:errors`; do not edit by hand. -->',
    '',
    'Every error of meterledger carries one of these codes: in the reply to a meter (MQTT, XMPP), in the',
    'HTTP error body `{"error": {"code", "message"}}`, in the log line\'s `code` field and as the',
    'metric label of a refusal. The message never repeats the code.',
    '',
    'Retry: **final**, the same input fails again (do not resend it); **retry**, transient, the same',
    'input may pass later; **fix-input**, change the input (message, request, file, setting) and try again.',
  ];
  for (const kind of Object.keys(KIND_TITLES) as CodeKind[]) {
    const codes = ALL_CODES.filter((c) => Codes[c].kind === kind).sort();
    if (codes.length === 0) continue;
    lines.push('', `## ${KIND_TITLES[kind]}`, '', '| Code | Retry | HTTP | Meaning |', '|---|---|---|---|');
    for (const c of codes) {
      const e: CodeInfo = Codes[c];
      lines.push(`| \`${c}\` | ${e.retry} | ${e.http ?? ''} | ${e.meaning.replace(/\|/g, '\\|')} |`);
    }
  }
  return lines.join('\n') + '\n';
}
