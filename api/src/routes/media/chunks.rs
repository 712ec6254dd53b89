//! The bytes of a download: read from the database in chunks aligned on
//! `MEDIA_CHUNK_BYTES`, one statement per chunk, through a bounded in-memory cache.
//!
//! Why a cache, when the bytes live in PostgreSQL: a backend reads a 10 MiB bytea at
//! about 500 MB/s (one TOAST tuple of 2 KB at a time) and sends it through the
//! protocol, while a file server sends from the kernel's page cache. Media bytes are
//! immutable and addressed by their sha256 (the strong ETag), so a chunk cached under
//! (sha256, chunk index) can never be stale or served for another asset: the cache plays
//! the part of the page cache for the hot images of a catalogue. It never decides
//! *whether* an asset is served — every request still asks `api.media_info` first, so a
//! deleted asset is 404 at once — only where its bytes come from. `MEDIA_CACHE_BYTES=0`
//! turns it off; eviction (quick_cache's CLOCK-Pro) keeps frequently read chunks over a
//! one-off scan of a large video.
//!
//! Concurrent readers of one missing chunk wait for the first one's statement instead of
//! each reading it (quick_cache's placeholder), so a burst on a new product image makes
//! one database read per chunk.
//!
//! Chunk reads take turns for half the pool (`MediaChunks::reads`), waiting as long as
//! it takes for their turn and then for a connection: a download has sent its 200 already, so giving up after the pool's
//! `DB_POOL_TIMEOUT_MS` would cut a body short, and a hundred downloads starting at once
//! (the kernel's socket buffers let even a 64 KiB/s client take megabytes at first)
//! must neither fail nor take every connection from the other routes.

use std::{ops::RangeInclusive, sync::Arc};

use crate::db::Db;
use bytes::Bytes;
use futures::{Stream, StreamExt};

/// Chunks read ahead of the one being sent: the database reads chunk k+1 while the
/// socket takes chunk k. Memory per download stays at (1 + `READ_AHEAD`) chunks plus
/// hyper's write buffer, and a slow client still stops the reads (the stream is only
/// polled when hyper has room).
const READ_AHEAD: usize = 1;

/// Bookkeeping bytes counted per cached chunk on top of its length (key, entry, `Bytes`).
const ENTRY_OVERHEAD: u64 = 96;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ChunkKey {
    sha256: [u8; 32],
    index: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct ByLength;

impl quick_cache::Weighter<ChunkKey, Bytes> for ByLength {
    fn weight(&self, _key: &ChunkKey, chunk: &Bytes) -> u64 {
        chunk.len() as u64 + ENTRY_OVERHEAD
    }
}

/// How downloads read chunks: their size, the cache of recently served ones (bounded
/// by `MEDIA_CACHE_BYTES`) and the turns for database reads.
pub struct MediaChunks {
    chunk_bytes: u64,
    cache: Option<quick_cache::sync::Cache<ChunkKey, Bytes, ByLength>>,
    reads: tokio::sync::Semaphore,
}

impl MediaChunks {
    /// `chunk_bytes`-long chunks, a cache of at most `capacity_bytes` (0: no cache), and
    /// at most half of `pool_size` connections reading chunks at once.
    pub fn new(capacity_bytes: u64, chunk_bytes: usize, pool_size: usize) -> Self {
        let chunk_bytes = chunk_bytes.max(1) as u64;
        let cache = (capacity_bytes > 0).then(|| {
            // The estimate sizes quick_cache's shards: each must hold several chunks.
            let estimated_chunks = (capacity_bytes / chunk_bytes).max(1) as usize;
            quick_cache::sync::Cache::with_weighter(estimated_chunks, capacity_bytes, ByLength)
        });
        let reads = tokio::sync::Semaphore::new((pool_size / 2).max(1));
        Self {
            chunk_bytes,
            cache,
            reads,
        }
    }

    /// Bytes held now (for tests and logs).
    pub fn weight(&self) -> u64 {
        self.cache.as_ref().map_or(0, quick_cache::sync::Cache::weight)
    }
}

/// What a download reads: which bytes, where from, and how big they are.
pub struct Source {
    pub pool: Db,
    pub chunks: Arc<MediaChunks>,
    pub asset_id: uuid::Uuid,
    pub variant: Option<String>,
    /// The sha256 of the bytes served (the original's or the derivative's), hex.
    pub sha256: String,
    /// Their total length.
    pub size: u64,
}

/// The bytes of `range`, chunk by chunk, each read when the body asks for it (hyper
/// polls the stream when the socket has room) plus `READ_AHEAD`.
pub fn stream(
    source: Source,
    range: RangeInclusive<u64>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let (start, end) = (*range.start(), *range.end());
    let chunk_bytes = source.chunks.chunk_bytes;
    let mut sha256 = [0u8; 32];
    // A sha256 that is not 64 hex digits cannot come from the database (it checks
    // them); such a key would only make every chunk a cache miss under one zero key.
    let keyed = hex::decode_to_slice(&source.sha256, &mut sha256).is_ok();
    let source = Arc::new(source);
    futures::stream::iter(start / chunk_bytes..=end / chunk_bytes)
        .map(move |index| {
            let source = Arc::clone(&source);
            async move {
                let chunk_start = index * chunk_bytes;
                let chunk = source.chunk(keyed.then_some(sha256), index).await?;
                // The part of this chunk inside the range (first and last chunks).
                let from = start.saturating_sub(chunk_start) as usize;
                let to = ((end + 1).min(chunk_start + chunk.len() as u64) - chunk_start) as usize;
                Ok(chunk.slice(from..to))
            }
        })
        .buffered(1 + READ_AHEAD)
}

impl Source {
    /// Aligned chunk `index`, from the cache or the database.
    async fn chunk(&self, sha256: Option<[u8; 32]>, index: u64) -> Result<Bytes, std::io::Error> {
        let (Some(cache), Some(sha256)) = (self.chunks.cache.as_ref(), sha256) else {
            return self.read(index).await;
        };
        match cache.get_value_or_guard_async(&ChunkKey { sha256, index }).await {
            Ok(chunk) => Ok(chunk),
            Err(guard) => {
                let chunk = self.read(index).await?;
                // Err means another reader inserted it meanwhile: same bytes either way.
                let _ = guard.insert(chunk.clone());
                Ok(chunk)
            }
        }
    }

    /// Chunk `index` from the database: one statement as the pool's login role, in its
    /// own transaction (public, immutable bytes need neither a request identity nor a
    /// transaction across chunks), holding a connection only for that statement.
    async fn read(&self, index: u64) -> Result<Bytes, std::io::Error> {
        let chunk_bytes = self.chunks.chunk_bytes;
        let offset = index * chunk_bytes;
        let length = (self.size - offset).min(chunk_bytes);
        let fail = |message: String| {
            tracing::error!(asset_id = %self.asset_id, offset, error = %message, "media download aborted");
            std::io::Error::other(message)
        };
        let describe = |e: tokio_postgres::Error| match e.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => e.to_string(),
        };
        // The semaphore is never closed; its queue is fair (first come, first served).
        let _turn = self
            .chunks
            .reads
            .acquire()
            .await
            .map_err(|e| fail(e.to_string()))?;
        // Other routes may hold the rest of the pool for a while: wait for a connection
        // without the pool's wait timeout (connecting keeps its own timeout, so a
        // database that is down still fails the download).
        let timeouts = deadpool_postgres::Timeouts {
            wait: None,
            ..self.pool.timeouts()
        };
        let client = self
            .pool
            .timeout_get(&timeouts)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let row = self
            .pool
            .query_one(
                &client,
                "select api.media_chunk($1, $2, $3, $4)",
                &[&self.asset_id, &self.variant, &(offset as i64), &(length as i32)],
            )
            .await
            .map_err(|e| fail(describe(e)))?;
        let bytes: Option<&[u8]> = row.try_get(0).map_err(|e| fail(describe(e)))?;
        match bytes {
            Some(bytes) if bytes.len() as u64 == length => Ok(Bytes::copy_from_slice(bytes)),
            _ => Err(fail(
                "media asset shorter than recorded, or deleted mid-download".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_bounded_by_bytes_and_can_be_off() {
        let off = MediaChunks::new(0, 1024, 16);
        assert!(off.cache.is_none());

        let cache = MediaChunks::new(10 * 1024, 1024, 16);
        let inner = cache.cache.as_ref().unwrap();
        for index in 0..100 {
            inner.insert(
                ChunkKey {
                    sha256: [7; 32],
                    index,
                },
                Bytes::from(vec![0u8; 1024]),
            );
        }
        assert!(cache.weight() <= 10 * 1024, "held {} bytes", cache.weight());
        assert!(cache.weight() >= 5 * 1024, "held {} bytes", cache.weight());
    }
}
