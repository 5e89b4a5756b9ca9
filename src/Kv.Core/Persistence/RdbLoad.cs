using Kv.Storage;

namespace Kv.Persistence;

/// <summary>
/// Reads a whole RDB stream into fresh per-database dictionaries, the part shared by loading at start, DEBUG RELOAD
/// and a replica's full sync (rdb.c rdbLoadRio into a temporary db, then swapped in by the caller). The tables are
/// pre-sized from each RESIZEDB hint (capped, since the hint comes from the stream) and the GC runs in batch mode
/// while millions of long-lived objects are allocated.
/// </summary>
internal static class RdbLoad
{
    /// <summary>Keys appended before the tables are linked (see <see cref="ReadAll"/>).</summary>
    private const int IndexBatch = 16384;

    /// <summary>Per-database main and expires tables (null where the stream had no key), and the counts.</summary>
    public sealed class Result(int databases)
    {
        /// <summary>Key to value, per database index.</summary>
        public KvDict<object>?[] Mains { get; } = new KvDict<object>?[databases];

        /// <summary>Key to absolute expire time (unix ms), per database index.</summary>
        public KvDict<long>?[] Expires { get; } = new KvDict<long>?[databases];

        /// <summary>Keys stored.</summary>
        public long Loaded { get; set; }

        /// <summary>Keys skipped because they were already expired (only with dropExpired).</summary>
        public long Expired { get; set; }
    }

    /// <summary>Reads every entry of <paramref name="reader"/>.</summary>
    /// <param name="reader">A reader positioned at the start of the stream (its Databases limit already set).</param>
    /// <param name="databases">Number of databases.</param>
    /// <param name="dropExpired">Skip keys whose expire time is before <paramref name="nowMs"/> (masters; a replica keeps them).</param>
    /// <param name="nowMs">Unix time in ms for <paramref name="dropExpired"/>.</param>
    /// <exception cref="RdbFormatException">Corrupt or truncated stream, or a key twice in one database.</exception>
    public static Result ReadAll(RdbReader reader, int databases, bool dropExpired, long nowMs)
    {
        var result = new Result(databases);
        var mains = result.Mains;
        var expires = result.Expires;
        reader.OnResizeDb = (db, keys, exp) =>
        {
            mains[db] ??= new KvDict<object>((int)Math.Min(keys, 1 << 26));
            if (exp > 0) expires[db] ??= new KvDict<long>((int)Math.Min(exp, 1 << 26));
        };
        long loaded = 0, expired = 0;
        int pending = 0;
        // Keys are appended to the tables unlinked and linked in batches (KvDict.AppendUnindexed/IndexAppended):
        // linking one key right after parsing it waits on a cache miss per key, a batch overlaps them. A key
        // present twice is reported at the end of its batch (at most IndexBatch keys later).
        void IndexPending()
        {
            for (int db = 0; db < databases; db++)
            {
                if (mains[db]?.IndexAppended() is { } dup)
                    throw new RdbFormatException($"duplicate key '{Printable(dup)}' in database {db}", reader.Position);
                if (expires[db]?.IndexAppended() is { } dupe)
                    throw new RdbFormatException($"duplicate key '{Printable(dupe)}' in database {db}", reader.Position);
            }
            pending = 0;
        }
        var oldMode = System.Runtime.GCSettings.LatencyMode;
        bool setMode = oldMode != System.Runtime.GCLatencyMode.NoGCRegion;
        if (setMode) System.Runtime.GCSettings.LatencyMode = System.Runtime.GCLatencyMode.Batch;
        try
        {
            reader.ReadAll(e =>
            {
                if (dropExpired && e.ExpireMs != -1 && e.ExpireMs < nowMs)
                {
                    expired++;
                    return;
                }
                (mains[e.Db] ??= new KvDict<object>()).AppendUnindexed(e.Key, e.Value);
                if (e.ExpireMs != -1) (expires[e.Db] ??= new KvDict<long>()).AppendUnindexed(e.Key, e.ExpireMs);
                loaded++;
                if (++pending == IndexBatch) IndexPending();
            });
            IndexPending();
        }
        finally
        {
            if (setMode) System.Runtime.GCSettings.LatencyMode = oldMode;
        }
        result.Loaded = loaded;
        result.Expired = expired;
        return result;
    }

    /// <summary>The first 64 bytes of a key as text, for error messages.</summary>
    public static string Printable(byte[] key) => System.Text.Encoding.UTF8.GetString(key.AsSpan(0, Math.Min(key.Length, 64)));
}
