using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kv.Storage;

/// <summary>
/// Hash table keyed by byte strings, with lookups by span (no key allocation on reads) and a SCAN cursor with
/// redis's guarantees (dict.c dictScan: reverse-binary iteration over power-of-two bucket counts, so every
/// element present for the whole scan is returned at least once even if the table grows or shrinks between calls).
/// Separate chaining through an entries array with a free list; buckets are entry indexes plus one (0 = empty).
/// Not thread-safe.
/// </summary>
/// <typeparam name="TValue">Stored value type.</typeparam>
public sealed class KvDict<TValue>
{
    private struct Entry
    {
        public byte[]? Key;
        public TValue Value;
        public int Hash;
        public int Next; // index of next entry in chain, -1 = end; in free list: next free
    }

    private int[] _buckets;
    private Entry[] _entries;
    private int _count;
    private int _used;     // entries slots ever used
    private int _freeList = -1;
    private int _freeCount;
    private int _unindexed = -1; // first entry appended by AppendUnindexed and not yet linked, or -1

    /// <summary>Creates an empty table.</summary>
    public KvDict(int capacity = 4)
    {
        int size = 4;
        while (size < capacity) size <<= 1;
        _buckets = new int[size];
        _entries = new Entry[size];
    }

    /// <summary>Number of keys.</summary>
    public int Count => _count;

    /// <summary>Bucket count (a power of two).</summary>
    public int BucketCount => _buckets.Length;

    /// <summary>Hash of a key as used by this table (process-randomized).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int HashOf(ReadOnlySpan<byte> key)
    {
        var h = new HashCode();
        h.AddBytes(key);
        return h.ToHashCode();
    }

    private int Find(ReadOnlySpan<byte> key, int hash)
    {
        int i = _buckets[hash & (_buckets.Length - 1)] - 1;
        var entries = _entries;
        while (i >= 0)
        {
            ref var e = ref entries[i];
            if (e.Hash == hash && key.SequenceEqual(e.Key)) return i;
            i = e.Next;
        }
        return -1;
    }

    /// <summary>True when the key is present.</summary>
    public bool ContainsKey(ReadOnlySpan<byte> key) => Find(key, HashOf(key)) >= 0;

    /// <summary>Looks a key up.</summary>
    public bool TryGetValue(ReadOnlySpan<byte> key, out TValue value)
    {
        int i = Find(key, HashOf(key));
        if (i < 0) { value = default!; return false; }
        value = _entries[i].Value;
        return true;
    }

    /// <summary>Looks a key up and returns the stored key array too (so callers can keep it without copying).</summary>
    public bool TryGetEntry(ReadOnlySpan<byte> key, out byte[] storedKey, out TValue value)
    {
        int i = Find(key, HashOf(key));
        if (i < 0) { value = default!; storedKey = null!; return false; }
        storedKey = _entries[i].Key!;
        value = _entries[i].Value;
        return true;
    }

    /// <summary>Reference to the value slot of a key, or a null reference when absent.</summary>
    public ref TValue GetValueRefOrNullRef(ReadOnlySpan<byte> key)
    {
        int i = Find(key, HashOf(key));
        if (i < 0) return ref Unsafe.NullRef<TValue>();
        return ref _entries[i].Value;
    }

    /// <summary>Inserts or replaces. The key array is stored as given (callers pass an owned copy).</summary>
    /// <returns>True when the key was new.</returns>
    public bool Set(byte[] key, TValue value)
    {
        int hash = HashOf(key);
        int i = Find(key, hash);
        if (i >= 0)
        {
            _entries[i].Value = value;
            return false;
        }
        Insert(key, value, hash);
        return true;
    }

    /// <summary>Inserts or replaces, copying the key (<see cref="KvHeap.Copy"/>) only when it is new.</summary>
    /// <returns>True when the key was new.</returns>
    public bool Set(ReadOnlySpan<byte> key, TValue value)
    {
        int hash = HashOf(key);
        int i = Find(key, hash);
        if (i >= 0)
        {
            _entries[i].Value = value;
            return false;
        }
        Insert(KvHeap.Copy(key), value, hash);
        return true;
    }

    private void Insert(byte[] key, TValue value, int hash)
    {
        if (_count >= _buckets.Length) Resize(_buckets.Length * 2);
        int idx;
        if (_freeCount > 0)
        {
            idx = _freeList;
            _freeList = _entries[idx].Next;
            _freeCount--;
        }
        else
        {
            if (_used == _entries.Length) Array.Resize(ref _entries, _entries.Length * 2);
            idx = _used++;
        }
        ref var b = ref _buckets[hash & (_buckets.Length - 1)];
        ref var e = ref _entries[idx];
        e.Key = key;
        e.Value = value;
        e.Hash = hash;
        e.Next = b - 1;
        b = idx + 1;
        _count++;
    }

    /// <summary>
    /// Bulk loading (RDB): appends a key to the entries array without linking it into its bucket, so a load does not
    /// wait on one cache miss per key; <see cref="IndexAppended"/> links a whole batch at once and finds
    /// duplicates. Until then lookups do not see the appended keys, so this is only for a table nobody else uses
    /// yet, with no removal since its creation (a fresh table being filled).
    /// </summary>
    internal void AppendUnindexed(byte[] key, TValue value)
    {
        if (_freeCount > 0) throw new InvalidOperationException("AppendUnindexed needs a table without free slots");
        if (_used == _entries.Length) Array.Resize(ref _entries, _entries.Length * 2);
        if (_unindexed < 0) _unindexed = _used;
        ref var e = ref _entries[_used++];
        e.Key = key;
        e.Value = value;
        e.Hash = HashOf(key);
        e.Next = -1;
        _count++;
    }

    /// <summary>
    /// Links the entries added by <see cref="AppendUnindexed"/> into their buckets (growing the bucket array as
    /// <see cref="Set(byte[], TValue)"/> would). Returns null, or the first key found twice: the table then holds
    /// both and must be discarded.
    /// </summary>
    internal byte[]? IndexAppended()
    {
        if (_unindexed < 0) return null;
        int from = _unindexed;
        _unindexed = -1;
        int size = _buckets.Length;
        while (size < _count) size <<= 1;
        if (size != _buckets.Length)
        {
            // Relink the already indexed entries (checked before) into the bigger bucket array.
            _buckets = new int[size];
            for (int i = 0; i < from; i++)
            {
                ref var e = ref _entries[i];
                ref int b = ref _buckets[e.Hash & (size - 1)];
                e.Next = b - 1;
                b = i + 1;
            }
        }
        var buckets = _buckets;
        var entries = _entries;
        int mask = buckets.Length - 1;
        for (int i = from; i < _used; i++)
        {
            ref var e = ref entries[i];
            ref int b = ref buckets[e.Hash & mask];
            for (int j = b - 1; j >= 0; j = entries[j].Next)
                if (entries[j].Hash == e.Hash && e.Key.AsSpan().SequenceEqual(entries[j].Key)) return e.Key;
            e.Next = b - 1;
            b = i + 1;
        }
        return null;
    }

    /// <summary>Removes a key.</summary>
    /// <returns>True when it was present.</returns>
    public bool Remove(ReadOnlySpan<byte> key) => Remove(key, out _, out _);

    /// <summary>Removes a key, returning the stored key and value.</summary>
    public bool Remove(ReadOnlySpan<byte> key, out byte[] storedKey, out TValue value)
    {
        int hash = HashOf(key);
        ref int b = ref _buckets[hash & (_buckets.Length - 1)];
        int prev = -1;
        int i = b - 1;
        while (i >= 0)
        {
            ref var e = ref _entries[i];
            if (e.Hash == hash && key.SequenceEqual(e.Key))
            {
                if (prev < 0) b = e.Next + 1;
                else _entries[prev].Next = e.Next;
                storedKey = e.Key!;
                value = e.Value;
                e.Key = null;
                e.Value = default!;
                e.Next = _freeList;
                _freeList = i;
                _freeCount++;
                _count--;
                if (_buckets.Length > 64 && _count < _buckets.Length / 8) Resize(_buckets.Length / 2);
                return true;
            }
            prev = i;
            i = e.Next;
        }
        storedKey = null!;
        value = default!;
        return false;
    }

    /// <summary>Removes everything.</summary>
    public void Clear()
    {
        _buckets = new int[4];
        _entries = new Entry[4];
        _count = _used = _freeCount = 0;
        _freeList = -1;
        _unindexed = -1;
    }

    private void Resize(int newSize)
    {
        // Compact entries so the array stays dense (_used == _count afterwards).
        var newEntries = new Entry[Math.Max(newSize, 4)];
        var newBuckets = new int[newSize];
        int n = 0;
        for (int i = 0; i < _used; i++)
        {
            ref var e = ref _entries[i];
            if (e.Key is null) continue;
            ref var ne = ref newEntries[n];
            ne = e;
            ref int b = ref newBuckets[e.Hash & (newSize - 1)];
            ne.Next = b - 1;
            b = n + 1;
            n++;
        }
        _entries = newEntries;
        _buckets = newBuckets;
        _used = n;
        _freeList = -1;
        _freeCount = 0;
    }

    /// <summary>
    /// One SCAN step: visits the bucket chain(s) at <paramref name="cursor"/> and returns the next cursor (0 when the
    /// iteration is complete). Same reverse-binary cursor arithmetic as redis dictScan, so cursors stay valid across
    /// resizes.
    /// </summary>
    public ulong Scan(ulong cursor, Action<byte[], TValue> visit)
    {
        if (_count == 0) return 0;
        ulong mask = (ulong)_buckets.Length - 1;
        int i = _buckets[(int)(cursor & mask)] - 1;
        while (i >= 0)
        {
            var e = _entries[i];
            i = e.Next;
            visit(e.Key!, e.Value);
        }
        cursor |= ~mask;
        cursor = ReverseBits(cursor);
        cursor++;
        cursor = ReverseBits(cursor);
        return cursor;
    }

    private static ulong ReverseBits(ulong v)
    {
        ulong r = 0;
        for (int i = 0; i < 64; i++) { r = (r << 1) | (v & 1); v >>= 1; }
        return r;
    }

    /// <summary>Returns a uniformly chosen bucket's entries' random element, or false when empty (RANDOMKEY, eviction sampling).</summary>
    public bool TryGetRandom(Random rng, out byte[] key, out TValue value)
    {
        key = null!; value = default!;
        if (_count == 0) return false;
        // Entries array is dense-ish: sample slots until a live one is found.
        while (true)
        {
            int i = rng.Next(_used);
            ref var e = ref _entries[i];
            if (e.Key is not null) { key = e.Key; value = e.Value; return true; }
        }
    }

    /// <summary>Enumerates all (key, value) pairs. The table must not be modified during enumeration.</summary>
    public IEnumerable<KeyValuePair<byte[], TValue>> Entries()
    {
        for (int i = 0; i < _used; i++)
        {
            var e = _entries[i];
            if (e.Key is not null) yield return new(e.Key, e.Value);
        }
    }

    /// <summary>Copies all keys into a new array (used by snapshots and KEYS).</summary>
    public byte[][] KeysToArray()
    {
        var res = new byte[_count][];
        int n = 0;
        for (int i = 0; i < _used; i++)
            if (_entries[i].Key is { } k) res[n++] = k;
        return res;
    }
}
