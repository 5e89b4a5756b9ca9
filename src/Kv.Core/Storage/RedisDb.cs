namespace Kv.Storage;

/// <summary>
/// Observer of keyspace writes while a point-in-time snapshot is being serialized (see
/// docs/ARCHITECTURE.md, "Fork-less snapshots"). <see cref="BeforeWrite"/> runs before any change to a key's
/// value or TTL, under the execution lock, so the observer can preserve the old state for the snapshot.
/// </summary>
public interface ISnapshotGuard
{
    /// <summary>Called before <paramref name="key"/> in <paramref name="db"/> is modified, replaced or deleted.</summary>
    void BeforeWrite(RedisDb db, ReadOnlySpan<byte> key);

    /// <summary>Called before the whole database is emptied (FLUSHDB/FLUSHALL/SWAPDB/full-sync load).</summary>
    void BeforeFlush(RedisDb db);
}

/// <summary>
/// One logical database (SELECT index): the main dictionary (key to value: <c>byte[]</c> for strings or a
/// <see cref="KvObject"/>) and the expires dictionary (key to absolute unix time in ms), as redisDb in server.h.
/// This type applies no expiry logic: callers (CommandContext) decide what an expired key means.
/// Not thread-safe: used under the server's execution lock.
/// </summary>
public sealed class RedisDb
{
    /// <summary>Creates database number <paramref name="id"/>.</summary>
    public RedisDb(int id) => Id = id;

    /// <summary>Database index.</summary>
    public int Id { get; internal set; }

    /// <summary>Key to value.</summary>
    public KvDict<object> Main { get; private set; } = new();

    /// <summary>Key to absolute expire time (unix ms). Only keys present in <see cref="Main"/>.</summary>
    public KvDict<long> Expires { get; private set; } = new();

    /// <summary>Set while a snapshot is in progress.</summary>
    public ISnapshotGuard? Guard { get; set; }

    /// <summary>Average TTL estimate in ms (INFO keyspace avg_ttl), updated by active expiry sampling.</summary>
    public long AvgTtl { get; set; }

    /// <summary>Number of keys.</summary>
    public int Count => Main.Count;

    /// <summary>Raw lookup (no expiry check).</summary>
    public object? Get(ReadOnlySpan<byte> key) => Main.TryGetValue(key, out var v) ? v : null;

    /// <summary>Raw lookup for a modification: notifies the snapshot guard first (the caller is about to mutate the value in place).</summary>
    public object? GetForWrite(ReadOnlySpan<byte> key)
    {
        if (!Main.TryGetValue(key, out var v)) return null;
        Guard?.BeforeWrite(this, key);
        return v;
    }

    /// <summary>Absolute expire time in ms, or -1 when the key has none.</summary>
    public long GetExpire(ReadOnlySpan<byte> key) => Expires.TryGetValue(key, out var t) ? t : -1;

    /// <summary>Stores a value. Unless <paramref name="keepTtl"/>, any TTL is removed (setKey semantics).</summary>
    /// <returns>True when the key is new.</returns>
    public bool Set(ReadOnlySpan<byte> key, object value, bool keepTtl = false)
    {
        Guard?.BeforeWrite(this, key);
        bool added = Main.Set(key, value);
        if (!added && !keepTtl) Expires.Remove(key);
        return added;
    }

    /// <summary>Stores a value under an owned key array.</summary>
    public bool Set(byte[] key, object value, bool keepTtl = false)
    {
        Guard?.BeforeWrite(this, key);
        bool added = Main.Set(key, value);
        if (!added && !keepTtl) Expires.Remove(key);
        return added;
    }

    /// <summary>Sets an absolute expire time (ms) on an existing key.</summary>
    public void SetExpire(ReadOnlySpan<byte> key, long whenMs)
    {
        if (!Main.TryGetEntry(key, out var storedKey, out _)) return;
        Guard?.BeforeWrite(this, key);
        Expires.Set(storedKey, whenMs);
    }

    /// <summary>Removes a TTL. Returns true when there was one.</summary>
    public bool RemoveExpire(ReadOnlySpan<byte> key)
    {
        if (!Expires.ContainsKey(key)) return false;
        Guard?.BeforeWrite(this, key);
        return Expires.Remove(key);
    }

    /// <summary>Deletes a key. Returns true when it existed.</summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        if (!Main.ContainsKey(key)) return false;
        Guard?.BeforeWrite(this, key);
        Expires.Remove(key);
        return Main.Remove(key);
    }

    /// <summary>Removes every key.</summary>
    public void Clear()
    {
        Guard?.BeforeFlush(this);
        Main = new KvDict<object>();
        Expires = new KvDict<long>();
    }

    /// <summary>Exchanges contents with another database (SWAPDB).</summary>
    public void SwapWith(RedisDb other)
    {
        Guard?.BeforeFlush(this);
        other.Guard?.BeforeFlush(other);
        (Main, other.Main) = (other.Main, Main);
        (Expires, other.Expires) = (other.Expires, Expires);
        (AvgTtl, other.AvgTtl) = (other.AvgTtl, AvgTtl);
    }

    /// <summary>Replaces the contents with freshly loaded dictionaries (RDB load, full sync).</summary>
    public void Replace(KvDict<object> main, KvDict<long> expires)
    {
        Guard?.BeforeFlush(this);
        Main = main;
        Expires = expires;
    }
}
