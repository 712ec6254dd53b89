//! Typed configuration read once from the environment at start-up.
//!
//! Every variable is documented on its field (and in docs/configuration.md). A missing or malformed
//! value stops start-up with one line naming the variable; secrets are never printed
//! (`Debug` redacts them).

use std::{fmt, net::SocketAddr, str::FromStr, time::Duration};

/// A start-up configuration error: which variable, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {var}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: &'static str,
    /// What is wrong, without echoing a secret value.
    pub problem: String,
}

/// Configuration of `maef-api`.
#[derive(Clone)]
pub struct Config {
    /// `DATABASE_URL` (required): libpq-style URL of the database, e.g.
    /// `postgres://maef:maef@127.0.0.1:5432/maef`.
    pub database_url: String,
    /// `BIND_ADDR` (default `0.0.0.0:8000`): address the HTTP server listens on.
    pub bind_addr: SocketAddr,
    /// `JWT_SECRET` (required for `serve`, at least 32 bytes): HS256 signing key for
    /// access tokens.
    pub jwt_secret: Option<String>,
    /// `CORS_ORIGINS` (default empty: no cross-origin access): comma-separated list of
    /// origins allowed by CORS, e.g. `https://shop.example,https://admin.example`.
    pub cors_origins: Vec<String>,
    /// `DB_POOL_SIZE` (default 16): maximum connections in the pool.
    pub db_pool_size: usize,
    /// `DB_POOL_TIMEOUT_MS` (default 2000): how long a request waits for a free
    /// connection before answering 504.
    pub db_pool_timeout: Duration,
    /// `DB_CONNECT_TIMEOUT_MS` (default 3000): TCP + authentication timeout of a new
    /// connection; past it the request answers 503.
    pub db_connect_timeout: Duration,
    /// `DB_STATEMENT_TIMEOUT_MS` (default 5000): PostgreSQL `statement_timeout` of the
    /// API's connections; a statement cancelled by it answers 504.
    pub db_statement_timeout: Duration,
    /// `REQUEST_TIMEOUT_MS` (default 30000): whole-request timeout (408 past it).
    pub request_timeout: Duration,
    /// `MAX_BODY_BYTES` (default 1048576): largest JSON request body (413 past it).
    pub max_body_bytes: usize,
    /// `LOG_FORMAT` (`text` or `json`, default `text`); the level comes from `RUST_LOG`
    /// (default `info`).
    pub log_format: LogFormat,
    /// Access and refresh token settings.
    pub tokens: TokenConfig,
    /// `ARGON2_MEMORY_KIB` (default 19456), `ARGON2_ITERATIONS` (default 2),
    /// `ARGON2_PARALLELISM` (default 1): argon2id cost, OWASP's minimum by default.
    /// Raising them rehashes each password at its owner's next login.
    pub argon2: Argon2Config,
    /// `PASSWORD_RESET_URL` (default `http://localhost:8000/reset-password?token=`): the
    /// reset token is appended to it in the e-mail's link.
    pub password_reset_url: String,
    /// `TRUST_FORWARDED_FOR` (default `false`): take the client address from the first
    /// `X-Forwarded-For` entry (only behind a proxy that sets it), else from the socket.
    pub trust_forwarded_for: bool,
    /// Media upload and download settings.
    pub media: MediaConfig,
    /// `WEBHOOK_ALLOW_PRIVATE` (default `false`): accept webhook URLs on loopback,
    /// private and link-local addresses, and plain http. For tests and development
    /// only: it turns the SSRF protection off (maef-worker has the same variable).
    pub webhook_allow_private: bool,
    /// The Instagram integration (`IG_*`, `OAUTH_TOKEN_KEY`): all optional; without
    /// them its routes answer 409 `instagram_not_configured`.
    pub instagram: maef_instagram::InstagramConfig,
    /// `WEB_DIR` (default unset): the storefront's build (`web/dist`, made by `npm run
    /// build`), served at `/` with the API still at `/api/v1`; its `docs/` folder (the
    /// vendored API explorer) replaces the static `/docs` page. Unset, or a folder
    /// without `index.html`: the API alone, as before.
    pub web_dir: Option<std::path::PathBuf>,
    /// The payment providers (`STRIPE_*`, `FEDAPAY_*`, `PAYSTACK_*`, `PAYMENT_*`): all
    /// optional; a provider without keys is not offered (docs/payments.md).
    pub payments: maef_payments::PaymentsConfig,
    /// Operating at scale: metrics access, pooler (see [`OpsConfig`]).
    pub ops: OpsConfig,
    /// The read replica (see [`ReplicaConfig`]).
    pub replica: ReplicaConfig,
}

/// A streaming replica for the public read routes (`crate::replica`).
#[derive(Clone)]
pub struct ReplicaConfig {
    /// `DATABASE_READ_URL` (default: none, every read on the primary): URL of a streaming
    /// replica of `DATABASE_URL`'s database. Catalog, product pages, search, media and
    /// stories are read there.
    pub read_url: Option<String>,
    /// `DB_READ_POOL_SIZE` (default `DB_POOL_SIZE`): connections to the replica.
    pub pool_size: usize,
    /// `READ_YOUR_WRITES_MS` (default 5000): after a write, how long its client's
    /// reads go to the primary (the primary-reads token's lifetime). Keep it above
    /// the replica's usual lag (`report.health`).
    pub read_your_writes: Duration,
    /// `REPLICA_RETRY_MS` (default 5000): how long an unreachable replica is skipped
    /// (reads go to the primary) before it is tried again.
    pub retry: Duration,
}

impl ReplicaConfig {
    fn from_lookup(var: &impl Fn(&str) -> Option<String>, pool_size: usize) -> Result<Self, ConfigError> {
        let read_url = var("DATABASE_READ_URL");
        if let Some(url) = &read_url {
            url.parse::<tokio_postgres::Config>().map_err(|e| ConfigError {
                var: "DATABASE_READ_URL",
                problem: format!("is not a valid PostgreSQL URL: {e}"),
            })?;
        }
        Ok(Self {
            read_url,
            pool_size: positive(var, "DB_READ_POOL_SIZE", pool_size)?,
            read_your_writes: millis(var, "READ_YOUR_WRITES_MS", 5_000)?,
            retry: millis(var, "REPLICA_RETRY_MS", 5_000)?,
        })
    }
}

/// Settings for operating several instances: who may read `/metrics`, and how
/// statements reach a pooler.
#[derive(Clone)]
pub struct OpsConfig {
    /// `METRICS_TOKEN` (default: none, `/metrics` answers 404): the bearer token a
    /// Prometheus scraper presents to `GET /metrics` (at least 32 bytes). Deny by
    /// default: metrics name routes, error rates and pool sizes, which are nobody
    /// else's business. Never logged.
    pub metrics_token: Option<String>,
    /// `DB_PREPARED_STATEMENTS` (`on`, the default, or `off`): `off` behind a
    /// transaction-mode pooler that does not track prepared statements (PgBouncer before
    /// 1.21): statements are sent unnamed, and `statement_timeout` is set per
    /// transaction instead of at connection start-up (see [`crate::db`]).
    pub prepared_statements: bool,
}

impl OpsConfig {
    fn from_lookup(var: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let metrics_token = var("METRICS_TOKEN");
        if let Some(token) = &metrics_token {
            if token.len() < 32 {
                return Err(ConfigError {
                    var: "METRICS_TOKEN",
                    problem: format!("is {} bytes; at least 32 are needed", token.len()),
                });
            }
        }
        let prepared_statements = match var("DB_PREPARED_STATEMENTS").as_deref().map(str::trim) {
            None | Some("on" | "true" | "1") => true,
            Some("off" | "false" | "0") => false,
            Some(other) => {
                return Err(ConfigError {
                    var: "DB_PREPARED_STATEMENTS",
                    problem: format!("'{other}' is neither on nor off"),
                })
            }
        };
        Ok(Self {
            metrics_token,
            prepared_statements,
        })
    }
}

/// Media settings (uploads stream; downloads are read from the database in chunks).
#[derive(Debug, Clone, Copy)]
pub struct MediaConfig {
    /// `MEDIA_BYTEA_MAX` (bytes, default 10485760 = 10 MiB): files up to this size are
    /// buffered and stored as one `bytea`; larger ones stream into a large object.
    pub bytea_max: usize,
    /// `MEDIA_MAX_IMAGE_BYTES` (default 10 MiB or `MEDIA_BYTEA_MAX` if smaller; at most
    /// `MEDIA_BYTEA_MAX`): largest image. Images are decoded at upload, so they are buffered whole anyway.
    pub max_image_bytes: u64,
    /// `MEDIA_MAX_VIDEO_BYTES` (default 209715200 = 200 MiB): largest video.
    pub max_video_bytes: u64,
    /// `MEDIA_QUOTA_BYTES` (default 1073741824 = 1 GiB): total size of the media one
    /// user may upload; administrators are exempt.
    pub quota_bytes: i64,
    /// `MEDIA_MAX_UPLOADS` (default 4): uploads processed at once by this instance;
    /// more wait up to `DB_POOL_TIMEOUT_MS`, then get 503 + Retry-After.
    pub max_uploads: usize,
    /// `MEDIA_CHUNK_BYTES` (default 262144 = 256 KiB): bytes per database read of a
    /// download and per large-object write of an upload (memory per transfer).
    pub chunk_bytes: usize,
    /// `MEDIA_CACHE_BYTES` (default 67108864 = 64 MiB; 0 turns it off): memory for
    /// recently downloaded chunks, keyed by sha256 (immutable bytes, never stale).
    pub cache_bytes: u64,
    /// `MEDIA_UPLOAD_IDLE_MS` (default 30000): an upload whose client sends nothing for
    /// this long is abandoned with 408 (uploads have no whole-request timeout).
    pub upload_idle: Duration,
}

/// Token settings. Their lifetimes are store policies in `shop.setting`
/// (`JWT_EXPIRES`, `JWT_REFRESH_EXPIRES`: see [`crate::migrate`]).
#[derive(Clone)]
pub struct TokenConfig {
    /// `JWT_RS256_PRIVATE_KEY_FILE` and `JWT_RS256_PUBLIC_KEY_FILE` (PEM, optional): when
    /// both are set, access tokens are signed RS256 instead of HS256 with `JWT_SECRET`.
    pub rs256: Option<(String, String)>,
}

/// argon2id parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Config {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations (t).
    pub iterations: u32,
    /// Lanes (p).
    pub parallelism: u32,
}

/// How log lines are written (text, or one JSON object per line for log collectors).
pub use maef_telemetry::LogFormat;

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field(
                "database_read_url",
                &self.replica.read_url.as_deref().map(redact_url),
            )
            .field("bind_addr", &self.bind_addr)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<redacted>"))
            .field("cors_origins", &self.cors_origins)
            .field("db_pool_size", &self.db_pool_size)
            .field("db_pool_timeout", &self.db_pool_timeout)
            .field("db_connect_timeout", &self.db_connect_timeout)
            .field("db_statement_timeout", &self.db_statement_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("log_format", &self.log_format)
            .field("argon2", &self.argon2)
            .field("web_dir", &self.web_dir)
            .finish_non_exhaustive()
    }
}

/// Hides the password of a `postgres://user:password@host/db` URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{user}:***{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Which command is being configured: `serve` needs more than `migrate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// `maef-api serve`: the HTTP server.
    Serve,
    /// `maef-api migrate` / `demo`: database tooling.
    Tooling,
}

impl Config {
    /// Reads the configuration from the process environment.
    ///
    /// # Errors
    /// The first missing or malformed variable.
    pub fn from_env(purpose: Purpose) -> Result<Self, ConfigError> {
        Self::from_lookup(purpose, |name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    /// The first missing or malformed variable.
    pub fn from_lookup(
        purpose: Purpose,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let database_url = var("DATABASE_URL").ok_or(ConfigError {
            var: "DATABASE_URL",
            problem: "is not set (e.g. postgres://maef:maef@127.0.0.1:5432/maef)".into(),
        })?;
        database_url
            .parse::<tokio_postgres::Config>()
            .map_err(|e| ConfigError {
                var: "DATABASE_URL",
                problem: format!("is not a valid PostgreSQL URL: {e}"),
            })?;

        let jwt_secret = var("JWT_SECRET");
        match (&jwt_secret, purpose) {
            (None, Purpose::Serve) => {
                return Err(ConfigError {
                    var: "JWT_SECRET",
                    problem: "is not set (at least 32 bytes)".into(),
                })
            }
            (Some(s), _) if s.len() < 32 => {
                return Err(ConfigError {
                    var: "JWT_SECRET",
                    problem: format!("is {} bytes; at least 32 are needed", s.len()),
                })
            }
            _ => {}
        }

        let log_format = match var("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError {
                    var: "LOG_FORMAT",
                    problem: format!("'{other}' is neither 'text' nor 'json'"),
                })
            }
        };

        Ok(Self {
            database_url,
            bind_addr: parse_or(&var, "BIND_ADDR", "0.0.0.0:8000".parse().expect("valid default"))?,
            jwt_secret,
            cors_origins: var("CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            db_pool_size: positive(&var, "DB_POOL_SIZE", 16)?,
            db_pool_timeout: millis(&var, "DB_POOL_TIMEOUT_MS", 2_000)?,
            db_connect_timeout: millis(&var, "DB_CONNECT_TIMEOUT_MS", 3_000)?,
            db_statement_timeout: millis(&var, "DB_STATEMENT_TIMEOUT_MS", 5_000)?,
            request_timeout: millis(&var, "REQUEST_TIMEOUT_MS", 30_000)?,
            max_body_bytes: positive(&var, "MAX_BODY_BYTES", 1 << 20)?,
            log_format,
            tokens: TokenConfig {
                rs256: match (
                    var("JWT_RS256_PRIVATE_KEY_FILE"),
                    var("JWT_RS256_PUBLIC_KEY_FILE"),
                ) {
                    (Some(private), Some(public)) => Some((private, public)),
                    (None, None) => None,
                    _ => {
                        return Err(ConfigError {
                            var: "JWT_RS256_PRIVATE_KEY_FILE",
                            problem: "set both it and JWT_RS256_PUBLIC_KEY_FILE, or neither".into(),
                        })
                    }
                },
            },
            argon2: Argon2Config {
                memory_kib: at_least(&var, "ARGON2_MEMORY_KIB", 19_456, 8)?,
                iterations: at_least(&var, "ARGON2_ITERATIONS", 2, 1)?,
                parallelism: at_least(&var, "ARGON2_PARALLELISM", 1, 1)?,
            },
            password_reset_url: var("PASSWORD_RESET_URL")
                .unwrap_or_else(|| "http://localhost:8000/reset-password?token=".into()),
            trust_forwarded_for: parse_or(&var, "TRUST_FORWARDED_FOR", false)?,
            media: media_config(&var)?,
            webhook_allow_private: match var("WEBHOOK_ALLOW_PRIVATE").as_deref().map(str::trim) {
                None | Some("0" | "false") => false,
                Some("1" | "true") => true,
                Some(other) => {
                    return Err(ConfigError {
                        var: "WEBHOOK_ALLOW_PRIVATE",
                        problem: format!("'{other}' is not true, false, 1 or 0"),
                    })
                }
            },
            instagram: maef_instagram::InstagramConfig::from_lookup(var).map_err(|p| ConfigError {
                var: p.var,
                problem: p.problem,
            })?,
            web_dir: var("WEB_DIR")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from),
            payments: maef_payments::PaymentsConfig::from_lookup(var).map_err(|p| ConfigError {
                var: p.var,
                problem: p.problem,
            })?,
            ops: OpsConfig::from_lookup(&var)?,
            replica: ReplicaConfig::from_lookup(&var, positive(&var, "DB_POOL_SIZE", 16)?)?,
        })
    }
}

fn media_config(var: &impl Fn(&str) -> Option<String>) -> Result<MediaConfig, ConfigError> {
    let bytea_max = positive(var, "MEDIA_BYTEA_MAX", 10 << 20)?;
    let max_image_bytes = positive(var, "MEDIA_MAX_IMAGE_BYTES", bytea_max.min(10 << 20))? as u64;
    if max_image_bytes > bytea_max as u64 {
        return Err(ConfigError {
            var: "MEDIA_MAX_IMAGE_BYTES",
            problem: format!(
                "is {max_image_bytes}, above MEDIA_BYTEA_MAX ({bytea_max}): images are decoded in memory at upload"
            ),
        });
    }
    Ok(MediaConfig {
        bytea_max,
        max_image_bytes,
        max_video_bytes: positive(var, "MEDIA_MAX_VIDEO_BYTES", 200 << 20)? as u64,
        quota_bytes: positive(var, "MEDIA_QUOTA_BYTES", 1 << 30)? as i64,
        max_uploads: positive(var, "MEDIA_MAX_UPLOADS", 4)?,
        chunk_bytes: positive(var, "MEDIA_CHUNK_BYTES", 256 << 10)?,
        cache_bytes: parse_or(var, "MEDIA_CACHE_BYTES", 64 << 20)?,
        upload_idle: millis(var, "MEDIA_UPLOAD_IDLE_MS", 30_000)?,
    })
}

fn parse_or<T: FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|e| ConfigError {
            var: name,
            problem: format!("'{raw}' is invalid: {e}"),
        }),
    }
}

fn positive(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: usize,
) -> Result<usize, ConfigError> {
    let value: usize = parse_or(var, name, default)?;
    if value == 0 {
        return Err(ConfigError {
            var: name,
            problem: "must be greater than 0".into(),
        });
    }
    Ok(value)
}

fn at_least(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
    minimum: u32,
) -> Result<u32, ConfigError> {
    let value: u32 = parse_or(var, name, default)?;
    if value < minimum || value > i32::MAX as u32 {
        return Err(ConfigError {
            var: name,
            problem: format!("must be between {minimum} and {}", i32::MAX),
        });
    }
    Ok(value)
}

fn millis(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    Ok(Duration::from_millis(
        positive(var, name, default as usize)? as u64
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)], purpose: Purpose) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(purpose, |k| map.get(k).cloned())
    }

    const URL: (&str, &str) = ("DATABASE_URL", "postgres://maef:secret@127.0.0.1:5432/maef");
    const SECRET: (&str, &str) = ("JWT_SECRET", "0123456789abcdef0123456789abcdef");

    #[test]
    fn defaults_apply_when_only_the_required_variables_are_set() {
        let c = config(&[URL, SECRET], Purpose::Serve).unwrap();
        assert_eq!(c.bind_addr.port(), 8000);
        assert_eq!(c.db_pool_size, 16);
        assert_eq!(c.max_body_bytes, 1 << 20);
        assert!(c.cors_origins.is_empty());
    }

    #[test]
    fn a_missing_database_url_names_the_variable() {
        let err = config(&[SECRET], Purpose::Serve).unwrap_err();
        assert_eq!(err.var, "DATABASE_URL");
    }

    #[test]
    fn serve_needs_a_long_enough_jwt_secret_but_migrate_does_not() {
        assert_eq!(config(&[URL], Purpose::Serve).unwrap_err().var, "JWT_SECRET");
        assert_eq!(
            config(&[URL, ("JWT_SECRET", "short")], Purpose::Serve)
                .unwrap_err()
                .var,
            "JWT_SECRET"
        );
        assert!(config(&[URL], Purpose::Tooling).is_ok());
    }

    #[test]
    fn malformed_numbers_and_addresses_name_their_variable() {
        for (name, bad) in [
            ("DB_POOL_SIZE", "many"),
            ("DB_POOL_SIZE", "0"),
            ("BIND_ADDR", "nowhere"),
            ("MAX_BODY_BYTES", "-1"),
            ("LOG_FORMAT", "xml"),
        ] {
            let err = config(&[URL, SECRET, (name, bad)], Purpose::Serve).unwrap_err();
            assert_eq!(err.var, name, "{name}={bad}");
        }
    }

    #[test]
    fn cors_origins_are_split_on_commas() {
        let c = config(
            &[
                URL,
                SECRET,
                ("CORS_ORIGINS", "https://a.example, https://b.example,"),
            ],
            Purpose::Serve,
        )
        .unwrap();
        assert_eq!(c.cors_origins, vec!["https://a.example", "https://b.example"]);
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let c = config(&[URL, SECRET], Purpose::Serve).unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("secret@") && !shown.contains("0123456789abcdef"),
            "{shown}"
        );
        assert!(shown.contains("maef:***@127.0.0.1"));
    }
}
