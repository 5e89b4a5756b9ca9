namespace Kv.Storage;

/// <summary>Redis data types (the TYPE command's answer, RDB object families).</summary>
public enum KvType
{
    /// <summary>string: stored directly as <c>byte[]</c> in the keyspace.</summary>
    String,
    /// <summary>list: <see cref="KvList"/>.</summary>
    List,
    /// <summary>set: <see cref="KvSet"/>.</summary>
    Set,
    /// <summary>zset: <see cref="KvZSet"/>.</summary>
    ZSet,
    /// <summary>hash: <see cref="KvHash"/>.</summary>
    Hash,
}

/// <summary>
/// Base of the collection values. Strings are not wrapped: the keyspace stores them as immutable <c>byte[]</c>
/// (commands that change a string build a new array), which keeps a small string key at two objects.
/// </summary>
public abstract class KvObject
{
    /// <summary>The data type.</summary>
    public abstract KvType Type { get; }

    /// <summary>Element count (LLEN, SCARD, ZCARD, HLEN).</summary>
    public abstract long Count { get; }

    /// <summary>
    /// OBJECT ENCODING as redis-server 7.0.15 would report it for the same content and the default
    /// *-max-listpack-* / set-max-intset-entries thresholds ("listpack", "quicklist", "intset", "hashtable", "skiplist").
    /// </summary>
    public abstract string Encoding { get; }

    /// <summary>Deep copy (used by the point-in-time snapshot to preserve a value before it is modified).</summary>
    public abstract KvObject Clone();

    /// <summary>Name used by TYPE.</summary>
    public static string TypeName(object value) => value switch
    {
        byte[] => "string",
        KvObject o => o.Type switch
        {
            KvType.List => "list",
            KvType.Set => "set",
            KvType.ZSet => "zset",
            KvType.Hash => "hash",
            _ => "string",
        },
        _ => "none",
    };
}

/// <summary>Equality and hashing of byte arrays by content, with span lookups.</summary>
public sealed class ByteArrayComparer : IEqualityComparer<byte[]>, IComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    /// <summary>The shared instance.</summary>
    public static readonly ByteArrayComparer Instance = new();

    /// <inheritdoc />
    public bool Equals(byte[]? x, byte[]? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

    /// <inheritdoc />
    public int GetHashCode(byte[] obj) => KvDict<int>.HashOf(obj);

    /// <summary>Binary (memcmp) order, shorter prefix first, as redis compares strings in sorted sets.</summary>
    public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);

    /// <inheritdoc />
    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    /// <inheritdoc />
    public int GetHashCode(ReadOnlySpan<byte> alternate) => KvDict<int>.HashOf(alternate);

    /// <inheritdoc />
    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
}
