namespace Kv.Storage;

/// <summary>
/// A list value. Redis 7.0 stores every list as a quicklist of listpacks (OBJECT ENCODING "quicklist"); here a
/// small list (at most <see cref="PackedMaxCount"/> elements of at most <see cref="PackedMaxElement"/> bytes) is
/// one byte buffer of length-prefixed strings (about a listpack's size, O(n) operations on at most 128 short
/// elements), and a bigger one is a deque of byte strings (circular buffer: O(1) push/pop at both ends, O(1)
/// index). The packed form converts to the deque once a limit is passed and never back. Not thread-safe.
/// </summary>
public sealed class KvList : KvObject
{
    /// <summary>Most elements kept in the packed form.</summary>
    public const int PackedMaxCount = 128;

    /// <summary>Longest element kept in the packed form.</summary>
    public const int PackedMaxElement = 64;

    // Packed form (when _items is null).
    private byte[]? _lp = [];
    private int _used;

    // Deque form.
    private byte[][]? _items;
    private int _head;

    private int _count;

    /// <inheritdoc />
    public override KvType Type => KvType.List;

    /// <inheritdoc />
    public override long Count => _count;

    /// <summary>
    /// Always "quicklist": redis 7.0.15 creates every list as a quicklist (the listpack list encoding came in 7.2).
    /// </summary>
    public override string Encoding => "quicklist";

    private bool Packed => _items is null;

    private void ToDeque()
    {
        if (_items is not null) return;
        int cap = 8;
        while (cap < _count + 1) cap <<= 1;
        var items = new byte[cap][];
        int i = 0;
        foreach (var e in PackedItems()) items[i++] = e;
        _items = items;
        _head = 0;
        _lp = null;
        _used = 0;
    }

    private int PackedOffset(int index)
    {
        var b = _lp.AsSpan(0, _used);
        int pos = 0;
        for (int i = 0; i < index; i++)
        {
            int l = PackedBytes.ReadLen(b, ref pos);
            pos += l;
        }
        return pos;
    }

    private byte[] PackedRead(int pos, out int end)
    {
        var b = _lp.AsSpan(0, _used);
        int l = PackedBytes.ReadLen(b, ref pos);
        end = pos + l;
        return b.Slice(pos, l).ToArray();
    }

    private IEnumerable<byte[]> PackedItems()
    {
        int pos = 0;
        for (int i = 0; i < _count; i++)
        {
            var e = PackedRead(pos, out pos);
            yield return e;
        }
    }

    /// <summary>Makes sure one more element of <paramref name="len"/> bytes still fits the packed form, else converts.</summary>
    private void BeforeAdd(int len)
    {
        if (Packed && (_count + 1 > PackedMaxCount || len > PackedMaxElement)) ToDeque();
    }

    private void PackedInsertAt(int pos, byte[] v)
    {
        _used = PackedBytes.Splice(ref _lp!, _used, pos, 0, PackedBytes.LenSize(v.Length) + v.Length);
        PackedBytes.WriteString(_lp.AsSpan(pos), v);
        _count++;
    }

    /// <summary>Element at position <paramref name="index"/> (0-based from the head).</summary>
    public byte[] this[int index]
    {
        get => Packed ? PackedRead(PackedOffset(index), out _) : _items![(_head + index) & (_items.Length - 1)];
        set
        {
            if (Packed && value.Length > PackedMaxElement) ToDeque();
            if (Packed)
            {
                int pos = PackedOffset(index);
                PackedRead(pos, out int end);
                _used = PackedBytes.Splice(ref _lp!, _used, pos, end - pos, PackedBytes.LenSize(value.Length) + value.Length);
                PackedBytes.WriteString(_lp.AsSpan(pos), value);
                return;
            }
            _items![(_head + index) & (_items.Length - 1)] = value;
        }
    }

    private void Grow()
    {
        var n = new byte[_items!.Length * 2][];
        for (int i = 0; i < _count; i++) n[i] = _items[(_head + i) & (_items.Length - 1)];
        _items = n;
        _head = 0;
    }

    /// <summary>Inserts at the head (LPUSH).</summary>
    public void AddFirst(byte[] v)
    {
        BeforeAdd(v.Length);
        if (Packed)
        {
            PackedInsertAt(0, v);
            return;
        }
        if (_count == _items!.Length) Grow();
        _head = (_head - 1) & (_items.Length - 1);
        _items[_head] = v;
        _count++;
    }

    /// <summary>Appends at the tail (RPUSH).</summary>
    public void AddLast(byte[] v)
    {
        BeforeAdd(v.Length);
        if (Packed)
        {
            PackedInsertAt(_used, v);
            return;
        }
        if (_count == _items!.Length) Grow();
        _items[(_head + _count) & (_items.Length - 1)] = v;
        _count++;
    }

    /// <summary>
    /// Bulk loading (RDB): makes room in the packed form for <paramref name="count"/> more elements of
    /// <paramref name="payloadBytes"/> bytes in total, so the following <see cref="AddLastSpan"/> calls do not regrow
    /// the buffer. No effect when they would not fit the packed form (the list converts on the first add).
    /// </summary>
    internal void ReservePacked(int count, long payloadBytes)
    {
        if (!Packed || _count + count > PackedMaxCount || payloadBytes > (long)count * PackedMaxElement) return;
        // Every packed element is at most PackedMaxElement (< 128) bytes: a one-byte length prefix each.
        int need = _used + count + (int)payloadBytes;
        PackedBytes.Reserve(ref _lp!, _used, need);
    }

    /// <summary>Appends at the tail from a span (RDB loading): same result as <see cref="AddLast"/>; allocates an array only in the deque form.</summary>
    internal void AddLastSpan(ReadOnlySpan<byte> v)
    {
        if (Packed && _count + 1 <= PackedMaxCount && v.Length <= PackedMaxElement)
        {
            int at = _used;
            _used = PackedBytes.Splice(ref _lp!, _used, at, 0, PackedBytes.LenSize(v.Length) + v.Length);
            PackedBytes.WriteString(_lp.AsSpan(at), v);
            _count++;
            return;
        }
        AddLast(v.ToArray());
    }

    /// <summary>
    /// The packed form's buffer: the elements from head to tail, each a <see cref="PackedBytes"/> varint length and
    /// the bytes. False for the deque form. For serialization without an array per element; valid until the next change.
    /// </summary>
    internal bool TryGetPacked(out ReadOnlySpan<byte> packed)
    {
        packed = Packed ? _lp.AsSpan(0, _used) : default;
        return Packed;
    }

    /// <summary>Removes and returns the head (LPOP).</summary>
    public byte[] RemoveFirst()
    {
        if (Packed)
        {
            var e = PackedRead(0, out int end);
            _used = PackedBytes.Splice(ref _lp!, _used, 0, end, 0);
            _count--;
            return e;
        }
        var v = _items![_head];
        _items[_head] = null!;
        _head = (_head + 1) & (_items.Length - 1);
        _count--;
        return v;
    }

    /// <summary>Removes and returns the tail (RPOP).</summary>
    public byte[] RemoveLast()
    {
        if (Packed)
        {
            int pos = PackedOffset(_count - 1);
            var e = PackedRead(pos, out _);
            _used = pos;
            _count--;
            return e;
        }
        int idx = (_head + _count - 1) & (_items!.Length - 1);
        var v = _items[idx];
        _items[idx] = null!;
        _count--;
        return v;
    }

    /// <summary>Inserts at position <paramref name="index"/> (0..Count), shifting later elements (LINSERT).</summary>
    public void Insert(int index, byte[] v)
    {
        if (index == 0) { AddFirst(v); return; }
        if (index == _count) { AddLast(v); return; }
        BeforeAdd(v.Length);
        if (Packed)
        {
            PackedInsertAt(PackedOffset(index), v);
            return;
        }
        var all = ToList();
        all.Insert(index, v);
        Reset(all);
    }

    /// <summary>Removes the element at <paramref name="index"/>.</summary>
    public void RemoveAt(int index)
    {
        if (index == 0) { RemoveFirst(); return; }
        if (index == _count - 1) { RemoveLast(); return; }
        if (Packed)
        {
            int pos = PackedOffset(index);
            PackedRead(pos, out int end);
            _used = PackedBytes.Splice(ref _lp!, _used, pos, end - pos, 0);
            _count--;
            return;
        }
        var all = ToList();
        all.RemoveAt(index);
        Reset(all);
    }

    /// <summary>Replaces the whole content (LREM). Keeps the current form.</summary>
    public void Reset(List<byte[]> items)
    {
        if (Packed)
        {
            _used = 0;
            _count = 0;
            foreach (var e in items) AddLast(e);
            return;
        }
        int cap = 8;
        while (cap < items.Count) cap <<= 1;
        _items = new byte[cap][];
        items.CopyTo(_items);
        _head = 0;
        _count = items.Count;
    }

    /// <summary>Elements from head to tail, copied into a list.</summary>
    public List<byte[]> ToList()
    {
        var l = new List<byte[]>(_count);
        l.AddRange(Items());
        return l;
    }

    /// <summary>Elements from head to tail.</summary>
    public IEnumerable<byte[]> Items()
    {
        if (Packed) return PackedItems();
        return DequeItems();
    }

    private IEnumerable<byte[]> DequeItems()
    {
        for (int i = 0; i < _count; i++) yield return _items![(_head + i) & (_items.Length - 1)];
    }

    /// <inheritdoc />
    public override KvObject Clone()
    {
        var c = new KvList();
        if (Packed)
        {
            c._lp = _lp.AsSpan(0, _used).ToArray();
            c._used = _used;
            c._count = _count;
        }
        else
        {
            c._lp = null;
            c._items = [];
            c.Reset(ToList());
        }
        return c;
    }
}
