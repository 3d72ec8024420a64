//! The commands a client may send, as the parser hands them to the session: one enum
//! variant per command (RFC 3501 and the extensions Cyrus 3.6 ships), with arguments
//! already decoded (literals read, macros such as `FAST` expanded, dates checked).
//!
//! Nothing here touches storage: mailbox names are as the client sent them (external,
//! modified UTF-7), sequence sets may still hold `*`.

/// A message number or UID in a sequence set; `*` is the largest one in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNum {
    /// A number the client wrote (never 0: the parser refuses it).
    Num(u32),
    /// `*`: the highest number in the mailbox (or UIDNEXT-1 for UIDs).
    Star,
}

/// A sequence set (RFC 3501 `sequence-set`): ranges as written, in the client's order.
/// Ranges are not normalised: `4:2` stays `(Num(4), Num(2))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqSet(pub Vec<(SeqNum, SeqNum)>);

impl SeqNum {
    /// The number this stands for when the largest in use is `max`.
    pub fn resolve(self, max: u32) -> u32 {
        match self {
            SeqNum::Num(n) => n,
            SeqNum::Star => max,
        }
    }
}

impl SeqSet {
    /// Whether `n` is in the set, `*` standing for `max` (RFC 3501 §9: `4:2` is `2:4`).
    pub fn contains(&self, n: u32, max: u32) -> bool {
        self.0.iter().any(|&(a, b)| {
            let (a, b) = (a.resolve(max), b.resolve(max));
            a.min(b) <= n && n <= a.max(b)
        })
    }

    /// The ranges with `*` resolved, each as `(low, high)`.
    pub fn ranges(&self, max: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.0.iter().map(move |&(a, b)| {
            let (a, b) = (a.resolve(max), b.resolve(max));
            (a.min(b), a.max(b))
        })
    }
}

/// A calendar date, as `SINCE`, `BEFORE` and friends take it (`d-mmm-yyyy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// The year, e.g. 2024.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31 (checked against the month).
    pub day: u8,
}

/// A date and time with zone, as APPEND takes it (`"dd-mmm-yyyy hh:mm:ss +zzzz"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Seconds since the epoch, UTC.
    pub unix: i64,
    /// The zone the client wrote, in minutes east of UTC.
    pub offset_minutes: i32,
}

/// A parsed command with its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The client's tag, echoed in the tagged reply.
    pub tag: String,
    /// What the client asked for.
    pub kind: CommandKind,
}

/// Every command the server understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind {
    // Any state (RFC 3501 §6.1).
    /// `CAPABILITY`
    Capability,
    /// `NOOP`
    Noop,
    /// `LOGOUT`
    Logout,
    /// `ID (...)` or `ID NIL` (RFC 2971): field/value pairs, `None` for `NIL`.
    Id(Option<Vec<(String, Option<String>)>>),

    // Not authenticated (§6.2).
    /// `STARTTLS`
    StartTls,
    /// `AUTHENTICATE mech [initial]` (SASL-IR): `initial` is the decoded initial response;
    /// `Some(vec![])` when the client sent `=`.
    Authenticate {
        /// The SASL mechanism name, upper-cased.
        mechanism: String,
        /// The decoded initial response, if any.
        initial: Option<Vec<u8>>,
    },
    /// `LOGIN user password`
    Login {
        /// The user name as sent.
        user: String,
        /// The password bytes as sent.
        password: Vec<u8>,
    },

    // Authenticated (§6.3).
    /// `SELECT mailbox [(params)]`
    Select {
        /// The mailbox as the client named it.
        mailbox: String,
        /// Select parameters, e.g. `CONDSTORE`.
        params: SelectParams,
    },
    /// `EXAMINE mailbox [(params)]`
    Examine {
        /// The mailbox as the client named it.
        mailbox: String,
        /// Select parameters, e.g. `CONDSTORE`.
        params: SelectParams,
    },
    /// `CREATE mailbox [(USE (\Drafts ...))]` (CREATE-SPECIAL-USE)
    Create {
        /// The mailbox as the client named it.
        mailbox: String,
        /// Special-use attributes to give the new mailbox.
        special_use: Vec<String>,
    },
    /// `DELETE mailbox`
    Delete {
        /// The mailbox as the client named it.
        mailbox: String,
    },
    /// `RENAME from to`
    Rename {
        /// The existing name.
        from: String,
        /// The new name.
        to: String,
    },
    /// `SUBSCRIBE mailbox`
    Subscribe {
        /// The mailbox as the client named it.
        mailbox: String,
    },
    /// `UNSUBSCRIBE mailbox`
    Unsubscribe {
        /// The mailbox as the client named it.
        mailbox: String,
    },
    /// `LIST` in its RFC 3501 and LIST-EXTENDED (RFC 5258) forms; `XLIST` sets `xlist`.
    List(ListArgs),
    /// `LSUB reference pattern`
    Lsub {
        /// The reference name.
        reference: String,
        /// The mailbox pattern with `*` and `%`.
        pattern: String,
    },
    /// `STATUS mailbox (items)`
    Status {
        /// The mailbox as the client named it.
        mailbox: String,
        /// The items asked for, in the client's order.
        items: Vec<StatusItem>,
    },
    /// `APPEND mailbox [flags] [date] literal` (MULTIAPPEND: several messages).
    Append {
        /// The mailbox as the client named it.
        mailbox: String,
        /// The messages, in order; at least one.
        messages: Vec<AppendMessage>,
    },
    /// `NAMESPACE`
    Namespace,
    /// `ENABLE cap ...` (RFC 5161)
    Enable(Vec<String>),
    /// `IDLE` (RFC 2177); the session then waits for `DONE`.
    Idle,
    /// `COMPRESS mechanism` (RFC 4978; Cyrus advertises COMPRESS=DEFLATE): the mechanism
    /// upper-cased; the session refuses any but `DEFLATE` ("Unknown COMPRESS algorithm").
    Compress {
        /// The mechanism named, e.g. `DEFLATE`.
        mechanism: String,
    },
    /// `GETACL mailbox`
    GetAcl {
        /// The mailbox as the client named it.
        mailbox: String,
    },
    /// `SETACL mailbox identifier rights` (rights may start with `+` or `-`).
    SetAcl {
        /// The mailbox as the client named it.
        mailbox: String,
        /// The user or group the entry is for.
        identifier: String,
        /// The rights, possibly with a leading `+` or `-`.
        rights: String,
    },
    /// `DELETEACL mailbox identifier`
    DeleteAcl {
        /// The mailbox as the client named it.
        mailbox: String,
        /// The user or group whose entry goes.
        identifier: String,
    },
    /// `LISTRIGHTS mailbox identifier`
    ListRights {
        /// The mailbox as the client named it.
        mailbox: String,
        /// The user or group asked about.
        identifier: String,
    },
    /// `MYRIGHTS mailbox`
    MyRights {
        /// The mailbox as the client named it.
        mailbox: String,
    },
    /// `GETQUOTA root`
    GetQuota {
        /// The quota root name.
        root: String,
    },
    /// `GETQUOTAROOT mailbox`
    GetQuotaRoot {
        /// The mailbox as the client named it.
        mailbox: String,
    },
    /// `SETQUOTA root (resource limit ...)`
    SetQuota {
        /// The quota root name.
        root: String,
        /// Resource names (upper-cased) and limits.
        limits: Vec<(String, u64)>,
    },
    /// `GETMETADATA [(options)] mailbox (entries)` (RFC 5464); mailbox `""` is the server.
    GetMetadata {
        /// `MAXSIZE n`, if given.
        maxsize: Option<u64>,
        /// `DEPTH 0|1|infinity` (infinity as `u32::MAX`); 0 when absent.
        depth: u32,
        /// The mailbox as the client named it.
        mailbox: String,
        /// Entry names such as `/private/comment`.
        entries: Vec<String>,
    },
    /// `SETMETADATA mailbox (entry value ...)`; `None` removes the entry.
    SetMetadata {
        /// The mailbox as the client named it.
        mailbox: String,
        /// Entries and values.
        entries: Vec<(String, Option<Vec<u8>>)>,
    },

    // Selected (§6.4).
    /// `CHECK`
    Check,
    /// `CLOSE`
    Close,
    /// `UNSELECT` (RFC 3691)
    Unselect,
    /// `EXPUNGE`, or `UID EXPUNGE set` (UIDPLUS) when `uids` is given.
    Expunge {
        /// The UIDs to limit the expunge to.
        uids: Option<SeqSet>,
    },
    /// `[UID] SEARCH [RETURN (...)] [CHARSET x] keys`
    Search(SearchArgs),
    /// `[UID] SORT [RETURN (...)] (criteria) charset keys` (RFC 5256, ESORT RFC 5267;
    /// Cyrus advertises SORT, SORT=DISPLAY, SORT=MODSEQ, SORT=UID, ESORT).
    Sort(SortArgs),
    /// `[UID] THREAD algorithm charset keys` (RFC 5256; Cyrus advertises ORDEREDSUBJECT,
    /// REFERENCES and REFS).
    Thread(ThreadArgs),
    /// `[UID] FETCH set items [(CHANGEDSINCE n [VANISHED])]`
    Fetch(FetchArgs),
    /// `[UID] STORE set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] (flags)`
    Store(StoreArgs),
    /// `[UID] COPY set mailbox`
    Copy {
        /// Whether the set holds UIDs.
        uid: bool,
        /// The messages.
        set: SeqSet,
        /// The destination as the client named it.
        mailbox: String,
    },
    /// `[UID] MOVE set mailbox` (RFC 6851)
    Move {
        /// Whether the set holds UIDs.
        uid: bool,
        /// The messages.
        set: SeqSet,
        /// The destination as the client named it.
        mailbox: String,
    },
}

/// Parameters of SELECT and EXAMINE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectParams {
    /// `CONDSTORE` was given (RFC 7162 §3.1.8).
    pub condstore: bool,
    /// `QRESYNC (...)` was given (RFC 7162 §3.2.5; Cyrus advertises QRESYNC).
    pub qresync: Option<QresyncParams>,
}

/// The parameters of SELECT's `QRESYNC` (RFC 7162 §3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QresyncParams {
    /// The UIDVALIDITY the client last saw.
    pub uidvalidity: u32,
    /// The HIGHESTMODSEQ the client last saw.
    pub modseq: u64,
    /// The UIDs the client knows, if it sent them.
    pub known_uids: Option<SeqSet>,
    /// Message numbers and the UIDs they match, if sent (`(seqs uids)`).
    pub seq_match: Option<(SeqSet, SeqSet)>,
}

/// Arguments of LIST (RFC 3501 §6.3.8, RFC 5258, RFC 5819 LIST-STATUS, RFC 6154).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListArgs {
    /// The command was `XLIST` (Cyrus still answers it).
    pub xlist: bool,
    /// Selection options, upper-cased: `SUBSCRIBED`, `REMOTE`, `RECURSIVEMATCH`, `SPECIAL-USE`.
    pub select: Vec<String>,
    /// The reference name.
    pub reference: String,
    /// One or more patterns.
    pub patterns: Vec<String>,
    /// Return options, upper-cased: `SUBSCRIBED`, `CHILDREN`, `SPECIAL-USE`, `MYRIGHTS`.
    pub returns: Vec<String>,
    /// `RETURN (STATUS (...))`: the STATUS items to send with each name.
    pub status: Option<Vec<StatusItem>>,
    /// `RETURN (METADATA (...))` (LIST-METADATA, RFC 9590; Cyrus advertises it): the
    /// entries to send with each name.
    pub metadata: Option<Vec<String>>,
}

/// A STATUS data item (RFC 3501 §6.3.10, RFC 7162, RFC 8438 STATUS=SIZE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    /// `MESSAGES`
    Messages,
    /// `RECENT`
    Recent,
    /// `UIDNEXT`
    UidNext,
    /// `UIDVALIDITY`
    UidValidity,
    /// `UNSEEN`
    Unseen,
    /// `HIGHESTMODSEQ`
    HighestModseq,
    /// `SIZE`
    Size,
    /// `MAILBOXID` (RFC 8474)
    MailboxId,
}

/// One message of an APPEND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    /// Flags to set, as written (e.g. `\Seen`, `$Forwarded`).
    pub flags: Vec<String>,
    /// The internal date to give it; now when absent.
    pub date: Option<DateTime>,
    /// The message bytes.
    pub message: Vec<u8>,
}

/// Arguments of SEARCH (RFC 3501 §6.4.4, ESEARCH RFC 4731).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchArgs {
    /// `UID SEARCH`.
    pub uid: bool,
    /// `RETURN (...)` options, upper-cased (`MIN`, `MAX`, `ALL`, `COUNT`, `SAVE`); `Some(vec![])`
    /// for `RETURN ()`, which means `ALL`; `None` for a plain SEARCH.
    pub ret: Option<Vec<String>>,
    /// The charset named by `CHARSET`, upper-cased; `None` means US-ASCII.
    pub charset: Option<String>,
    /// The keys, ANDed.
    pub key: SearchKey,
}

/// Arguments of SORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortArgs {
    /// `UID SORT`.
    pub uid: bool,
    /// `RETURN (...)` options (ESORT), upper-cased; `None` for a plain SORT.
    pub ret: Option<Vec<String>>,
    /// The sort criteria, most significant first.
    pub criteria: Vec<SortCriterion>,
    /// The charset of the search strings, upper-cased.
    pub charset: String,
    /// The search keys, ANDed.
    pub key: SearchKey,
}

/// One SORT criterion: `[REVERSE] key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortCriterion {
    /// `REVERSE` was given.
    pub reverse: bool,
    /// The key, upper-cased: `ARRIVAL`, `CC`, `DATE`, `FROM`, `SIZE`, `SUBJECT`, `TO`,
    /// `DISPLAYFROM`, `DISPLAYTO`, `MODSEQ`, `UID`.
    pub key: String,
}

/// Arguments of THREAD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadArgs {
    /// `UID THREAD`.
    pub uid: bool,
    /// The algorithm, upper-cased: `ORDEREDSUBJECT`, `REFERENCES` or `REFS`.
    pub algorithm: String,
    /// The charset of the search strings, upper-cased.
    pub charset: String,
    /// The search keys, ANDed.
    pub key: SearchKey,
}

/// A search key (RFC 3501 §6.4.4, RFC 7162 MODSEQ, RFC 5032 WITHIN). String arguments are
/// the raw bytes in the command's charset; the searcher converts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// Several keys, all of which must match (a parenthesised list, or the top level).
    And(Vec<SearchKey>),
    /// `OR a b`
    Or(Box<SearchKey>, Box<SearchKey>),
    /// `NOT a`
    Not(Box<SearchKey>),
    /// `ALL`
    All,
    /// A bare sequence set.
    Seq(SeqSet),
    /// `UID set`
    Uid(SeqSet),
    /// `ANSWERED`, `DELETED`, `DRAFT`, `FLAGGED`, `SEEN`, `RECENT` and `KEYWORD x`
    /// (flag name as written, e.g. `\Seen`).
    Flag(String),
    /// `UNANSWERED`, ..., `UNKEYWORD x`, `NEW` is `And[Recent, Not Seen]`, `OLD` is `Not Recent`.
    NotFlag(String),
    /// `BCC`, `CC`, `FROM`, `TO`, `SUBJECT`, `HEADER name` (field name as written).
    Header(String, Vec<u8>),
    /// `BODY x`
    Body(Vec<u8>),
    /// `TEXT x`
    Text(Vec<u8>),
    /// `BEFORE d` (internal date, in the server's zone)
    Before(Date),
    /// `ON d`
    On(Date),
    /// `SINCE d`
    Since(Date),
    /// `SENTBEFORE d` (Date: header)
    SentBefore(Date),
    /// `SENTON d`
    SentOn(Date),
    /// `SENTSINCE d`
    SentSince(Date),
    /// `LARGER n`
    Larger(u64),
    /// `SMALLER n`
    Smaller(u64),
    /// `MODSEQ [entry type] n`: messages whose modseq is at least `n`.
    Modseq(u64),
    /// `OLDER secs` (WITHIN)
    Older(u32),
    /// `YOUNGER secs` (WITHIN)
    Younger(u32),
}

/// Arguments of FETCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchArgs {
    /// `UID FETCH` (UID is then always returned).
    pub uid: bool,
    /// The messages.
    pub set: SeqSet,
    /// The items, macros expanded, in the client's order.
    pub items: Vec<FetchAtt>,
    /// `CHANGEDSINCE n` (RFC 7162).
    pub changedsince: Option<u64>,
    /// `VANISHED` (QRESYNC; only with `UID FETCH` and `CHANGEDSINCE`).
    pub vanished: bool,
}

/// A FETCH data item (RFC 3501 §6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAtt {
    /// `ENVELOPE`
    Envelope,
    /// `FLAGS`
    Flags,
    /// `INTERNALDATE`
    InternalDate,
    /// `RFC822` (sets \Seen)
    Rfc822,
    /// `RFC822.HEADER`
    Rfc822Header,
    /// `RFC822.SIZE`
    Rfc822Size,
    /// `RFC822.TEXT` (sets \Seen)
    Rfc822Text,
    /// `BODY` (the non-extensible BODYSTRUCTURE)
    Body,
    /// `BODYSTRUCTURE`
    BodyStructure,
    /// `UID`
    Uid,
    /// `MODSEQ`
    Modseq,
    /// `EMAILID` (RFC 8474)
    EmailId,
    /// `THREADID` (RFC 8474)
    ThreadId,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`
    BodySection {
        /// `BODY.PEEK` (does not set \Seen).
        peek: bool,
        /// The section.
        section: Section,
        /// `<offset.length>`.
        partial: Option<(u32, u32)>,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK[...]` (RFC 3516)
    Binary {
        /// `BINARY.PEEK`.
        peek: bool,
        /// The part numbers.
        part: Vec<u32>,
        /// `<offset.length>`.
        partial: Option<(u32, u32)>,
    },
    /// `BINARY.SIZE[part]`
    BinarySize {
        /// The part numbers.
        part: Vec<u32>,
    },
}

/// A body section specifier (RFC 3501 `section`): part numbers, then what of that part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// Part numbers, e.g. `[1, 2]` for `1.2`; empty for the whole message.
    pub part: Vec<u32>,
    /// What of the part; `None` means the whole part (`BODY[]`, `BODY[1.2]`).
    pub text: Option<SectionText>,
}

/// The textual part of a section specifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// `HEADER`
    Header,
    /// `HEADER.FIELDS (names)`, names as written (the reply echoes them upper-cased).
    HeaderFields(Vec<String>),
    /// `HEADER.FIELDS.NOT (names)`
    HeaderFieldsNot(Vec<String>),
    /// `TEXT`
    Text,
    /// `MIME` (only after part numbers)
    Mime,
}

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `FLAGS`
    Replace,
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
}

/// Arguments of STORE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreArgs {
    /// `UID STORE`.
    pub uid: bool,
    /// The messages.
    pub set: SeqSet,
    /// `UNCHANGEDSINCE n` (RFC 7162).
    pub unchangedsince: Option<u64>,
    /// Replace, add or remove.
    pub mode: StoreMode,
    /// `.SILENT`
    pub silent: bool,
    /// The flags, as written.
    pub flags: Vec<String>,
}
