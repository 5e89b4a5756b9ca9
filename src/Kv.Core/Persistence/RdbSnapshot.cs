using Kv.Server;
using Kv.Storage;

namespace Kv.Persistence;

/// <summary>
/// A fork-less point-in-time snapshot of the whole keyspace, serialized as an RDB stream by a background thread
/// while commands keep running (docs/Kv.md "Persistence", docs/ARCHITECTURE.md "Fork-less snapshots").
/// <para>
/// At creation (under the execution lock) it records, per non-empty database, the dictionary objects and an array
/// of their keys, and installs itself as the databases' <see cref="ISnapshotGuard"/>. The writer thread sorts each
/// key array by the key's hash and serializes keys in that order in batches (256 keys or 1 MiB), taking the lock
/// per batch and writing the bytes outside it. Because keys are written in hash order, "already written" is a single
/// comparison with the last written hash. Before any key is changed, <see cref="ISnapshotGuard.BeforeWrite"/> keeps a
/// deep copy of its old value and TTL if the key was in the snapshot and is not written yet (once per key), and a
/// tombstone for keys that did not exist at the snapshot. FLUSHDB/FLUSHALL/SWAPDB/replace need no copy: the snapshot
/// follows the dictionary objects themselves, which those operations drop or move but never clear.
/// Extra memory is the key and value reference arrays (16 bytes per key, plus 8 for the hash order while a database
/// is written) plus the old values of keys changed during the snapshot before they were written.
/// </para>
/// </summary>
public sealed class RdbSnapshot
{
    private const int BatchKeys = 256;
    private const int BatchBytes = 1 << 20;

    private sealed class Preserved(object value, long expire)
    {
        public readonly object Value = value;
        public readonly long Expire = expire;
    }

    private sealed class DbState
    {
        public required int DbId;
        public required KvDict<object> Main;
        public required KvDict<long> Expires;
        public required byte[][] Keys;
        public required object[] Values;
        public required long ExpiresCount;
        public long Boundary = -1; // keys with hash <= Boundary are written
        public bool Done;
        public Dictionary<byte[], Preserved?>? Touched;
    }

    private readonly KvServer _server;
    private readonly Stream _output;
    private readonly RdbReplInfo? _repl;
    private readonly RdbWriterOptions _options;
    private readonly List<DbState> _states = [];
    private readonly TaskCompletionSource<long> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Func<RdbSnapshot, bool>? _commit;
    private volatile bool _cancelled;
    private long _keysProcessed;
    private long _bytes;
    private long _lockTicks, _sortTicks, _waitTicks;
    private readonly System.Diagnostics.Stopwatch _elapsed = new();

    /// <summary>
    /// Captures the snapshot and starts the writer thread. Must be called under <see cref="KvServer.ExecLock"/>;
    /// the snapshot is the dataset at this exact moment.
    /// </summary>
    /// <param name="server">The server.</param>
    /// <param name="output">Destination of the RDB bytes (not disposed here).</param>
    /// <param name="repl">Replication aux fields to embed, or null.</param>
    /// <param name="options">Writer options (rdbcompression, rdbchecksum).</param>
    /// <param name="commit">
    /// Called under the execution lock after the last byte was written and flushed; returning false fails the
    /// snapshot (used to rename a temp file only when the snapshot was not cancelled meanwhile).
    /// </param>
    internal RdbSnapshot(KvServer server, Stream output, RdbReplInfo? repl, RdbWriterOptions options, Func<RdbSnapshot, bool>? commit)
    {
        if (!Monitor.IsEntered(server.ExecLock)) throw new InvalidOperationException("RdbSnapshot must be started under the execution lock");
        _server = server;
        _output = output;
        _repl = repl;
        _options = options;
        _commit = commit;
        StartedUnixMs = KvServer.UnixMs();
        foreach (var db in server.Databases)
        {
            if (db.Count == 0) continue;
            // Keys and value references as of now: a value object is only valid for the snapshot while its key is
            // untouched; the first change to the key preserves a copy (BeforeWrite) before anything mutates it.
            var keys = new byte[db.Count][];
            var values = new object[db.Count];
            int n = 0;
            foreach (var kv in db.Main.Entries())
            {
                keys[n] = kv.Key;
                values[n] = kv.Value;
                n++;
            }
            _states.Add(new DbState
            {
                DbId = db.Id, Main = db.Main, Expires = db.Expires, Keys = keys, Values = values, ExpiresCount = db.Expires.Count,
            });
            KeysTotal += n;
        }
        GuardHub.For(server).Add(this);
        var t = new Thread(Run) { IsBackground = true, Name = "kv-rdb-snapshot" };
        t.Start();
    }

    /// <summary>Unix ms at which the snapshot was taken.</summary>
    public long StartedUnixMs { get; }

    /// <summary>Number of keys in the snapshot (current_save_keys_total).</summary>
    public long KeysTotal { get; }

    /// <summary>Keys serialized so far (current_save_keys_processed).</summary>
    public long KeysProcessed => Interlocked.Read(ref _keysProcessed);

    /// <summary>RDB bytes written to the output so far.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytes);

    /// <summary>Completes with the total RDB size in bytes; faults with the I/O error, or cancels.</summary>
    public Task<long> Completion => _done.Task;

    /// <summary>True after <see cref="Cancel"/>.</summary>
    public bool Cancelled => _cancelled;

    /// <summary>Stops the snapshot at the next batch (killRDBChild); <see cref="Completion"/> is then cancelled.</summary>
    public void Cancel() => _cancelled = true;

    /// <summary>Timing summary after completion (keys, bytes, time sorting, waiting for and holding the lock).</summary>
    public string Stats { get; private set; } = "";

    /// <summary>Old values kept because keys changed during the snapshot (diagnostics and tests).</summary>
    public int PreservedCount
    {
        get
        {
            int n = 0;
            foreach (var s in _states) if (s.Touched is { } t) foreach (var v in t.Values) if (v is not null) n++;
            return n;
        }
    }

    /// <summary>Guard hook: called under the lock before a key of <paramref name="db"/> changes.</summary>
    internal void BeforeWrite(RedisDb db, ReadOnlySpan<byte> key)
    {
        foreach (var s in _states)
        {
            if (s.Done || !ReferenceEquals(s.Main, db.Main)) continue;
            if (s.Boundary >= 0 && (uint)KvDict<int>.HashOf(key) <= s.Boundary) return; // already written
            s.Touched ??= new Dictionary<byte[], Preserved?>(ByteArrayComparer.Instance);
            var lookup = s.Touched.GetAlternateLookup<ReadOnlySpan<byte>>();
            if (lookup.ContainsKey(key)) return;
            if (s.Main.TryGetEntry(key, out var stored, out var value))
            {
                long exp = s.Expires.TryGetValue(key, out var e) ? e : -1;
                s.Touched[stored] = new Preserved(value is KvObject o ? o.Clone() : value, exp);
            }
            else s.Touched[key.ToArray()] = null; // created after the snapshot: not part of it
            return;
        }
    }

    private void Run()
    {
        var writer = new RdbWriter(_output, _options);
        _elapsed.Start();
        try
        {
            writer.WriteMagic();
            writer.WriteDefaultAux(StartedUnixMs / 1000, KvServer.UsedMemory(), _repl);
            foreach (var s in _states) WriteDb(writer, s);
            if (_cancelled) throw new OperationCanceledException("snapshot cancelled");
            writer.WriteEnd();
            _output.Flush();
            if (_output is FileStream file) file.Flush(flushToDisk: true); // fsync outside the lock
            Interlocked.Exchange(ref _bytes, writer.Length);
            bool ok = true;
            lock (_server.ExecLock)
            {
                GuardHub.For(_server).Remove(this);
                if (_cancelled) throw new OperationCanceledException("snapshot cancelled");
                if (_commit is not null) ok = _commit(this);
            }
            Stats = $"{KeysProcessed} keys, {writer.Length} bytes in {_elapsed.ElapsedMilliseconds} ms " +
                    $"(sorting {TimeSpan.FromTicks(_sortTicks).TotalMilliseconds:F0} ms, waiting for the lock {TimeSpan.FromTicks(_waitTicks).TotalMilliseconds:F0} ms, " +
                    $"serializing under the lock {TimeSpan.FromTicks(_lockTicks).TotalMilliseconds:F0} ms)";
            if (ok) _done.TrySetResult(writer.Length);
            else _done.TrySetException(new IOException("snapshot commit failed"));
        }
        catch (OperationCanceledException)
        {
            Detach();
            _done.TrySetCanceled();
        }
        catch (Exception e)
        {
            Detach();
            _done.TrySetException(e);
        }
    }

    private void Detach()
    {
        lock (_server.ExecLock) GuardHub.For(_server).Remove(this);
    }

    private void WriteDb(RdbWriter writer, DbState s)
    {
        var keys = s.Keys;
        int n = keys.Length;
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        var hashes = new uint[n];
        var order = new int[n];
        for (int i = 0; i < n; i++)
        {
            hashes[i] = (uint)KvDict<int>.HashOf(keys[i]);
            order[i] = i;
        }
        SortByHash(hashes, order);
        _sortTicks += System.Diagnostics.Stopwatch.GetElapsedTime(t0).Ticks;
        writer.WriteSelectDb(s.DbId);
        writer.WriteResizeDb(n, s.ExpiresCount);
        int pos = 0;
        while (pos < n)
        {
            if (_cancelled) throw new OperationCanceledException("snapshot cancelled");
            int j = pos;
            _touchSink += TouchAhead(s, order, pos, Math.Min(n, pos + BatchKeys));
            long w0 = System.Diagnostics.Stopwatch.GetTimestamp();
            lock (_server.ExecLock)
            {
                long l0 = System.Diagnostics.Stopwatch.GetTimestamp();
                _waitTicks += System.Diagnostics.Stopwatch.GetElapsedTime(w0, l0).Ticks;
                do
                {
                    WriteKey(writer, s, order[j]);
                    j++;
                } while (j < n && ((j - pos < BatchKeys && writer.Pending < BatchBytes) || hashes[j] == hashes[j - 1]));
                s.Boundary = hashes[j - 1];
                if (j == n)
                {
                    s.Done = true;
                    s.Touched = null;
                }
                _lockTicks += System.Diagnostics.Stopwatch.GetElapsedTime(l0).Ticks;
            }
            writer.Flush();
            Interlocked.Add(ref _keysProcessed, j - pos);
            Interlocked.Exchange(ref _bytes, writer.Length);
            pos = j;
        }
        s.Keys = [];
        s.Values = [];
    }

    private int _touchSink;

    /// <summary>
    /// Reads the key and value objects of the next batch in a tight loop, outside the lock. Keys are written in hash
    /// order, so each key costs a few cache misses (its slot, the key, the value); in the serializing loop they come
    /// one after the other, here the CPU overlaps them and the batch is then serialized from the cache.
    /// </summary>
    private static int TouchAhead(DbState s, int[] order, int from, int to)
    {
        var keys = s.Keys;
        var values = s.Values;
        int acc = 0;
        for (int j = from; j < to; j++)
        {
            int i = order[j];
            acc += keys[i].Length;
            acc += values[i] is byte[] b ? b.Length : 1;
        }
        return acc;
    }

    /// <summary>
    /// Sorts <paramref name="hashes"/> ascending, permuting <paramref name="order"/> alike. Large tables use a
    /// two-pass LSD radix sort on 16-bit digits (linear; a comparison sort of a million keys took ~10% of a snapshot).
    /// </summary>
    internal static void SortByHash(uint[] hashes, int[] order)
    {
        int n = hashes.Length;
        if (n < 1 << 16)
        {
            Array.Sort(hashes, order);
            return;
        }
        var h2 = new uint[n];
        var o2 = new int[n];
        var start = new int[1 << 16];
        RadixPass(hashes, order, h2, o2, 0, start);
        Array.Clear(start);
        RadixPass(h2, o2, hashes, order, 16, start);
    }

    private static void RadixPass(uint[] src, int[] srcItems, uint[] dst, int[] dstItems, int shift, int[] start)
    {
        foreach (var h in src) start[(h >> shift) & 0xFFFF]++;
        int sum = 0;
        for (int d = 0; d < start.Length; d++)
        {
            int c = start[d];
            start[d] = sum;
            sum += c;
        }
        for (int i = 0; i < src.Length; i++)
        {
            int at = start[(src[i] >> shift) & 0xFFFF]++;
            dst[at] = src[i];
            dstItems[at] = srcItems[i];
        }
    }

    private static void WriteKey(RdbWriter writer, DbState s, int index)
    {
        var key = s.Keys[index];
        if (s.Touched is { Count: > 0 } touched && touched.Remove(key, out var p))
        {
            if (p is not null) writer.WriteKeyValue(key, p.Value, p.Expire);
            return;
        }
        // Untouched since the snapshot: the captured value object is the live one and unchanged; the TTL too (a TTL
        // change touches the key), and there is none to look up when the database had no TTLs at all.
        long exp = s.ExpiresCount > 0 && s.Expires.TryGetValue(key, out var e) ? e : -1;
        writer.WriteKeyValue(key, s.Values[index], exp);
    }

    /// <summary>The guard installed on every database while at least one snapshot runs; fans out to them.</summary>
    private sealed class GuardHub : ISnapshotGuard
    {
        private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<KvServer, GuardHub> Hubs = new();
        private readonly KvServer _server;
        private readonly List<RdbSnapshot> _active = [];

        private GuardHub(KvServer server) => _server = server;

        public static GuardHub For(KvServer server) => Hubs.GetValue(server, s => new GuardHub(s));

        public void Add(RdbSnapshot s)
        {
            _active.Add(s);
            foreach (var db in _server.Databases) db.Guard = this;
        }

        public void Remove(RdbSnapshot s)
        {
            if (!_active.Remove(s) || _active.Count > 0) return;
            foreach (var db in _server.Databases) if (ReferenceEquals(db.Guard, this)) db.Guard = null;
        }

        public void BeforeWrite(RedisDb db, ReadOnlySpan<byte> key)
        {
            foreach (var s in _active) s.BeforeWrite(db, key);
        }

        public void BeforeFlush(RedisDb db)
        {
            // Nothing to copy: each snapshot holds the dictionary objects it reads, and flush/swap/replace only drop
            // or move those objects (changes made to a moved dictionary still come through BeforeWrite).
        }
    }
}
