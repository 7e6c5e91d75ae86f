/*
 * limits — every default and hard cap in one table, with its unit.
 * Config values are range-checked against these at load time; parsers take
 * the configured values, never these constants directly, unless the cap is
 * not configurable.
 */
#ifndef FORMPOST_LIMITS_H
#define FORMPOST_LIMITS_H

/* Config file */
#define LIM_CONFIG_BYTES      (1024 * 1024)  /* bytes: largest config file */
#define LIM_CONFIG_DEPTH      6              /* levels: deepest schema path */
#define LIM_SCALAR_BYTES      4096           /* bytes: one YAML scalar */
#define LIM_SITES             1000           /* sites in one config */
#define LIM_PROFILES          32             /* smtp profiles */
#define LIM_LIST_ITEMS        100            /* to/cc/bcc/origins/options... */
#define LIM_NAME_BYTES        64             /* site, profile and field names */
#define LIM_SECRET_BYTES      4096           /* bytes: one password_file */

/* Request (configurable under limits:, these are the defaults and ranges) */
#define DEF_MAX_BODY          (64 * 1024)    /* bytes */
#define MIN_MAX_BODY          1024
#define MAX_MAX_BODY          (16 * 1024 * 1024)
#define MAX_SITE_MAX_BODY     (32 * 1024 * 1024) /* bytes: a site's max_body, for
                                                attachments (doc/design.md
                                                "Attachments") */
#define DEF_MAX_FIELDS        50             /* fields per form */
#define MAX_MAX_FIELDS        1000
#define DEF_MAX_FIELD_NAME    64             /* bytes */
#define MAX_MAX_FIELD_NAME    256
#define LIM_PART_HEADER_BYTES 1024           /* bytes: one multipart header line */
#define LIM_PART_HEADERS      8              /* header lines per multipart part */
#define LIM_BOUNDARY_BYTES    70             /* RFC 2046 §5.1.1 */
#define LIM_PAGE_URL          2048           /* bytes: a Referer used as the page */
#define DEF_READ_TIMEOUT      10             /* seconds: accept to the end of the body */
#define MIN_READ_TIMEOUT      1
#define MAX_READ_TIMEOUT      600
#define LIM_FCGI_PARAMS_BYTES (64 * 1024)    /* bytes: names + values of one request's
                                                FastCGI params */
#define LIM_FCGI_PARAMS       256            /* FastCGI params per request */
#define LIM_FCGI_INTAKE_BYTES (16 * 1024)    /* bytes queued that get a request a worker
                                                before all of it is in */
#define LIM_FCGI_HELD         512            /* connections waiting for their request */
#define LIM_FCGI_HEAD_RECORDS 256            /* records before the params end (a flood
                                                of tiny ones is not a request) */
#define LIM_FCGI_INTAKE_PEEK  (LIM_FCGI_PARAMS_BYTES + 8 * LIM_FCGI_PARAMS + \
                               (8 + 255) * (LIM_FCGI_HEAD_RECORDS + 1))
                                             /* bytes: the most the intake inspects: a
                                                whole head within the caps above */

/* Attachments (doc/design.md "Attachments") */
#define LIM_STREAM_CHUNK      (64 * 1024)    /* bytes: one read of a multipart body,
                                                and the stream parser's window */
#define LIM_ATTACH_NAME_CHARS 100            /* characters of an attachment's label */
#define LIM_SNIFF_HEAD        1024           /* bytes: the head checked for magic,
                                                markup and a second type */
#define LIM_SNIFF_CHUNK       (64 * 1024)    /* bytes: one read while sniffing text */
#define LIM_ZIP_CD_BYTES      (512 * 1024)   /* bytes: largest ZIP central directory */
#define LIM_ZIP_ENTRIES       8192           /* entries in one ZIP */
#define LIM_ZIP_CT_BYTES      (256 * 1024)   /* bytes: [Content_Types].xml, packed
                                                or not */

/* Spool */
#define DEF_SPOOL_MAX_MESSAGES 10000
#define MAX_SPOOL_MAX_MESSAGES 10000000
#define DEF_SPOOL_MIN_FREE    (64LL * 1024 * 1024) /* bytes */
#define LIM_SPOOL_MESSAGE     (48 * 1024 * 1024) /* bytes: largest message: a 32M
                                                max_body in base64 (4/3) with its
                                                text and headers */
#define LIM_SPOOL_FILE        (LIM_SPOOL_MESSAGE + 1024 * 1024) /* bytes: largest
                                                spool file read */
#define LIM_SPOOL_MAP         (256 * 1024)   /* bytes: a claimed spool file this large
                                              * stays in its file, not in the heap */
#define LIM_SPOOL_LINE        1024           /* bytes: one spool header line */
#define LIM_SPOOL_RCPT        (3 * LIM_LIST_ITEMS) /* recipients: to + cc + bcc */
#define LIM_SPOOL_FREE        256            /* files: delivered spool files one process
                                                keeps in free/ for reuse */
#define LIM_SPOOL_FREE_BYTES  (64 * 1024)    /* bytes: a delivered file up to this
                                                size keeps its blocks in free/
                                                (zeroed); a larger one is emptied */
#define LIM_SPOOL_FREE_ROOM   (64LL * 1024 * 1024) /* bytes: with less free space
                                                every delivered file is emptied: a
                                                full disk fails a commit at once */
#define LIM_SPOOL_TMP_AGE     3600           /* seconds: tmp/ leftovers older are removed */
#define LIM_SPOOL_RESCAN      5              /* seconds between rescans of queue/ (other
                                                processes' and dead processes' messages) */
#define LIM_SPOOL_STATFS_MS   250            /* ms: free space is read at most this often */
#define LIM_SPOOL_MIN_INODES  64             /* inodes: fewer free is "full" */
/* Held uploads of the review step (doc/design.md "The review step") */
#define DEF_SPOOL_MAX_HELD    1000           /* files in hold/; more: the first step gets 503 */
#define MAX_SPOOL_MAX_HELD    1000000
#define DEF_SPOOL_MAX_HELD_BYTES (1024LL * 1024 * 1024) /* bytes in hold/, together */
#define DEF_HOLD_RATE_COUNT   10             /* first posts that hold files, per client, */
#define DEF_HOLD_RATE_WINDOW  600            /* per this many seconds, on sites without
                                                rate_limit (with one: that budget) */
#define LIM_SPOOL_PEEK        4096           /* bytes of a header read for gauges */
#define LIM_SPOOL_HISTORY     20             /* attempts: a spool file keeps the last
                                                ones (and their total count) */
#define LIM_SPOOL_HISTORY_BYTES (256 * 1024) /* bytes: attempts before the newest are
                                                dropped, oldest first, past this */
#define LIM_SPOOL_HISTORY_READ 64            /* attempts: most one file may hold to be
                                                read (room for a build keeping more) */
#define LIM_SPOOL_NEWER_RECHECK 3600         /* seconds: a file of a newer format
                                                version is looked at again after */

/* Delivery, seconds */
#define DEF_FIRST_RETRY       30
#define MAX_FIRST_RETRY       86400
#define DEF_MAX_RETRY         3600
#define MAX_MAX_RETRY         (7 * 86400)
#define DEF_MAX_AGE           (5 * 86400)
#define MAX_MAX_AGE           (60 * 86400)
#define DEF_SMTP_TIMEOUT      120            /* connect, greeting, each command
                                                (RFC 5321 §4.5.3.2: 2 min or more) */
#define LIM_SMTP_DOT_WAIT     600            /* reply to the final dot (RFC 5321
                                                §4.5.3.2.6: 10 min) */
#define LIM_SMTP_ATTEMPT      (15 * 60)      /* whole attempt cap */
#define LIM_STOP_GRACE        3              /* seconds in-flight SMTP gets on SIGTERM */
#define LIM_STOP_READ_GRACE   2              /* seconds a request still arriving gets
                                                on SIGTERM (then: read_timeout) */
#define LIM_SMTP_IDLE         10             /* seconds: an idle SMTP connection is closed */
#define LIM_SMTP_LINE         1024           /* bytes of one server reply line kept */
#define DEF_SMTP_CONNECTIONS  2              /* SMTP sessions at once per profile */
#define MAX_SMTP_CONNECTIONS  16
#define LIM_PIPE_WINDOW       16             /* messages one sender thread claims at
                                                once for a pipelined session (RFC 2920;
                                                doc/design.md "A delivery") */
#define LIM_PIPE_CHUNK        16384          /* message bytes a pipelined session reads
                                                from the spool at a time */
#define LIM_PIPE_OUT          (4 * LIM_PIPE_CHUNK) /* its output queued at most */
#define LIM_PIPE_BYTES        (1024 * 1024)  /* message bytes one window claims, at
                                                most (a message kept in its file
                                                counts as all of it) */
#define LIM_PIPE_FILES        512            /* messages all windows claim at once */
#define LIM_PIPE_READS        64             /* reads of the socket in one round */
#define LIM_SMTP_REPLY_LINES  64             /* lines of one reply a pipelined session
                                                reads (multi-line, RFC 5321 §4.2.1) */
#define LIM_PIPE_RETRY        60             /* seconds of the old path only after a
                                                pipelined session could not be opened
                                                (the old path reports the failure) */
#define LIM_SENDERS_TOTAL     64             /* delivery threads per process, all
                                                profiles together (a bounded pool) */
#ifndef LIM_SCHEDULE                         /* (tests build a sender with 64) */
#define LIM_SCHEDULE          8192           /* messages the sender holds in memory;
                                                more wait in queue/ for room
                                                (doc/design.md "The schedule's
                                                bound") */
#endif
#define LIM_SENDER_PROFILES   64             /* profiles whose back-off is remembered
                                                (reloads may rename) */

/* Mail */
#define LIM_LINE_OCTETS       998            /* RFC 5322 §2.1.1 */
#define LIM_HEADER_FOLD       78             /* RFC 5322 §2.1.1 */
#define LIM_ENCODED_WORD      75             /* RFC 2047 §2 */
#define LIM_ADDR_LOCAL        64             /* RFC 5321 §4.5.3.1.1 */
#define LIM_ADDR_DOMAIN       255            /* RFC 5321 §4.5.3.1.2 */
#define LIM_ADDR_PATH         256            /* RFC 5321 §4.5.3.1.3 */

/* DKIM (RFC 6376, RFC 8301 §3.2, RFC 8463) */
#define LIM_KEY_BYTES         (64 * 1024)    /* bytes: largest PEM key file */
#define LIM_DKIM_RSA_MIN_BITS 2048           /* bits: weaker keys are refused */
#define LIM_DKIM_RSA_MAX_BITS 8192           /* bits: larger ones do not fit in DNS */
#define LIM_DKIM_HEADER       (256 * 1024)   /* bytes: the header block a streamed
                                              * message's signer keeps (dkim_stream) */
#define LIM_DKIM_ROOM         (16 * 1024)    /* bytes before a message composed into a
                                              * file, for its DKIM-Signature */
#define LIM_MIME_CHUNK_LINES  1024           /* base64 lines (57 octets each) of an
                                              * attachment encoded at a time: 57 KiB
                                              * in, 78 KiB out (doc/design.md
                                              * "Attachments") */
#define LIM_DKIM_FIELDS       64             /* header fields a signed message may have */

/* DNS (formpost doctor) */
#define LIM_DNS_TIMEOUT       3              /* seconds per try */
#define LIM_DNS_TRIES         2              /* tries per name server */
#define LIM_DNS_ANSWER        65535          /* bytes: largest answer read */
#define LIM_DNS_RECORDS       64             /* records kept per answer */
#define LIM_SPF_LOOKUPS       10             /* RFC 7208 §4.6.4: terms that query DNS
                                                in one evaluation */
#define LIM_SPF_VOID_LOOKUPS  2              /* RFC 7208 §4.6.4: lookups that find
                                                nothing, in one evaluation */
#define LIM_SPF_DEPTH         10             /* include/redirect nesting */
#define LIM_SPF_TERMS         64             /* terms in one SPF record */
#define LIM_DNS_TAGS          32             /* tags in one DMARC or DKIM record */

/* Spam filters and the fill-time token, per site (doc/design.md "Limits") */
#define MAX_MAX_LINKS         1000           /* links: filters.max_links */
#define DEF_TOKEN_MIN_AGE     3              /* seconds */
#define MAX_TOKEN_MIN_AGE     86400
#define DEF_TOKEN_MAX_AGE     7200           /* seconds */
#define MAX_TOKEN_MAX_AGE     (30 * 86400)

/* Double submit and replays (doc/design.md "Limits") */
#define LIM_DEDUP_WINDOW      600            /* seconds: same post = same answer */
#define LIM_DEDUP_SLOTS       4096           /* entries, ~80 bytes each, fixed */
#define LIM_TOKEN_NONCES      16384          /* token nonces of accepted posts, ~80 bytes each, fixed */
#define LIM_TOKEN_NONCE_WINDOW MAX_TOKEN_MAX_AGE /* seconds: a nonce is remembered
                                                as long as any token may live */
#define LIM_DEDUP_WAIT_MS     5000           /* a twin waits this long for the first's spool write */

/* Auto-reply (doc/design.md "Auto-reply and carrier mail") */
#define DEF_AUTO_REPLY_COUNT  3              /* receipts per address, per
                                                network ... */
#define DEF_AUTO_REPLY_WINDOW 86400          /* ... per this many seconds */
#define LIM_RECEIPT_MAX_AGE   86400          /* seconds: then a receipt is
                                                given up */
#define LIM_ECHO_CHARS        200            /* characters: a longer echo
                                                is omitted */
#define LIM_REPLYLIMIT_SLOTS  8192           /* keys, 32 bytes each:
                                                autoreply.db is 256 KiB +
                                                a header, fixed */
#define LIM_REPLYLIMIT_PROBE  16             /* slots searched for a key */

/* Templates */
#define LIM_TEMPLATE_BYTES    (256 * 1024)   /* bytes: one template file */
#define LIM_TEMPLATE_DEPTH    8              /* nested sections */
#define LIM_TEMPLATE_PLAN     (1024 * 1024)  /* bytes: a page's plan, text
                                                and steps (tmpl.h) */
#define LIM_FORM_ACTION       2048           /* bytes: `formpost form --action URL` */

/* Threads */
#define DEF_WORKERS           8
#define MAX_WORKERS           256
#define LIM_LISTEN_BACKLOG    128            /* connections: listen(2) backlog */
#define LIM_RATELIMIT_SLOTS   65536          /* clients, 16 bytes each: 1 MiB whatever
                                                the flood */

/* Operations: metrics, alerts, retention (doc/design.md "Operations") */
#define LIM_METRICS_SERIES    2048           /* labelled counters per process, fixed;
                                                beyond: counted as dropped */
#define LIM_METRICS_LABEL     64             /* bytes of one label value kept */
#define LIM_METRICS_BODY      (1024 * 1024)  /* bytes: largest /_metrics answer */
#define LIM_OPS_TICK          60             /* seconds between checks of the queue's
                                                age and the spool (alerts) */
#define LIM_RETENTION_EVERY   3600           /* seconds between retention runs */
#define LIM_ALERT_OLDEST      3600           /* seconds: an older queued message alerts */
#define DEF_ALERT_MIN_INTERVAL 3600          /* seconds, per event kind and site */
#define MAX_ALERT_MIN_INTERVAL (7 * 86400)
#define LIM_ALERT_QUEUE       64             /* alerts waiting to be sent; more are
                                                dropped (and logged) */
#define LIM_ALERT_KEYS        256            /* (event, site, profile) remembered */
#define LIM_ALERT_TRIES       3              /* sends per alert and channel */
#define LIM_ALERT_TIMEOUT     10             /* seconds: one webhook POST, all of it */
#define LIM_ALERT_URL         2048           /* bytes: alerts.webhook */
#define DEF_RETENTION_FAILED  (30 * 86400)   /* seconds: failed/ entries kept */
#define MAX_RETENTION         (3650U * 86400) /* seconds: longest retention */

/* Logs */
#define LIM_LOG_VALUE         512            /* bytes of one value before "…" */

#endif
