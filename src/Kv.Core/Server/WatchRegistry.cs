namespace Kv.Server;

/// <summary>
/// WATCHed keys (multi.c): (db, key) to the clients watching it. <see cref="Touch"/> marks those clients dirty
/// so their EXEC fails with a null reply. Used under the execution lock.
/// </summary>
public sealed class WatchRegistry
{
    private readonly Dictionary<(int Db, string Key), List<ClientSession>> _watched = [];
    private readonly Dictionary<ClientSession, List<(int Db, string Key)>> _byClient = [];

    /// <summary>Number of watched keys in total.</summary>
    public int Count => _watched.Count;

    private static string K(ReadOnlySpan<byte> key) => Convert.ToBase64String(key);

    /// <summary>Starts watching a key for a client.</summary>
    public void Watch(ClientSession c, int db, ReadOnlySpan<byte> key)
    {
        var k = (db, K(key));
        if (!_watched.TryGetValue(k, out var list)) _watched[k] = list = [];
        if (list.Contains(c)) return;
        list.Add(c);
        if (!_byClient.TryGetValue(c, out var keys)) _byClient[c] = keys = [];
        keys.Add(k);
    }

    /// <summary>Number of keys a client watches.</summary>
    public int CountFor(ClientSession c) => _byClient.TryGetValue(c, out var l) ? l.Count : 0;

    /// <summary>Stops watching everything for a client (UNWATCH, EXEC, DISCARD, disconnect).</summary>
    public void UnwatchAll(ClientSession c)
    {
        if (!_byClient.Remove(c, out var keys)) { c.WatchDirty = false; return; }
        foreach (var k in keys)
        {
            if (_watched.TryGetValue(k, out var list))
            {
                list.Remove(c);
                if (list.Count == 0) _watched.Remove(k);
            }
        }
        c.WatchDirty = false;
    }

    /// <summary>Marks the watchers of a key dirty (touchWatchedKey).</summary>
    public void Touch(int db, ReadOnlySpan<byte> key)
    {
        if (_watched.Count == 0) return;
        if (_watched.TryGetValue((db, K(key)), out var list))
            foreach (var c in list) c.WatchDirty = true;
    }

    /// <summary>Marks the watchers of every key of a database dirty (FLUSHDB, SWAPDB); db -1 = all.</summary>
    public void TouchDb(int db)
    {
        foreach (var (k, list) in _watched)
            if (db < 0 || k.Db == db)
                foreach (var c in list) c.WatchDirty = true;
    }

    /// <summary>
    /// touchAllWatchedKeysInDb (7.0.15): marks dirty the watchers of those keys of <paramref name="db"/> for which
    /// <paramref name="exists"/> is true (a key that exists in the emptied db or in the db swapped in). Keys that
    /// did not exist stay clean, as in redis. Call before the flush/swap.
    /// </summary>
    public void TouchDbWhere(int db, Func<byte[], bool> exists)
    {
        foreach (var (k, list) in _watched)
            if (k.Db == db && exists(Convert.FromBase64String(k.Key)))
                foreach (var c in list) c.WatchDirty = true;
    }

    /// <summary>The (db, key) pairs a client watches (for the expired-watched-key check of EXEC).</summary>
    public IEnumerable<(int Db, byte[] Key)> KeysOf(ClientSession c)
    {
        if (!_byClient.TryGetValue(c, out var keys)) yield break;
        foreach (var (db, key) in keys) yield return (db, Convert.FromBase64String(key));
    }
}
