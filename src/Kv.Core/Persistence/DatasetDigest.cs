using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Kv.Storage;

namespace Kv.Persistence;

/// <summary>
/// DEBUG DIGEST and DEBUG DIGEST-VALUE with the algorithm of redis 7.0.15 (debug.c computeDatasetDigest,
/// xorObjectDigest), so the same data gives the same 40-hex digest on redis and on kv:
/// <list type="bullet">
/// <item>xor(d, s): d ^= SHA1(s) (order-independent); mix(d, s): d = SHA1(d ^ SHA1(s)) (order-dependent).</item>
/// <item>Per database with keys: mix(final, big-endian u32 db index); per key: kd = 0, mix(kd, key), then the value
/// digest, then xor(final, kd).</item>
/// <item>Value: mix(kd, big-endian u32 type: string 0, list 1, set 2, zset 3, hash 4); string: mix(value); list:
/// mix(each element, head to tail); set: xor(each member); zset: per member e = 0, mix(e, member),
/// mix(e, "%.17g" of the score), xor(kd, e); hash: per field e = 0, mix(e, field), mix(e, value), xor(kd, e); a key with
/// a TTL also gets xor(kd, "!!expire!!"); then xor(final, kd) (the SHA1 of the key digest, not the digest itself).</item>
/// </list>
/// </summary>
public static class DatasetDigest
{
    private static void Xor(Span<byte> digest, ReadOnlySpan<byte> data)
    {
        Span<byte> h = stackalloc byte[20];
        SHA1.HashData(data, h);
        for (int i = 0; i < 20; i++) digest[i] ^= h[i];
    }

    private static void Mix(Span<byte> digest, ReadOnlySpan<byte> data)
    {
        Xor(digest, data);
        Span<byte> copy = stackalloc byte[20];
        digest.CopyTo(copy);
        SHA1.HashData(copy, digest);
    }

    private static void MixU32(Span<byte> digest, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        Mix(digest, b);
    }

    /// <summary>Adds the digest of one value (with its TTL flag) into <paramref name="digest"/> (xorObjectDigest).</summary>
    public static void XorObject(Span<byte> digest, object value, bool hasExpire)
    {
        switch (value)
        {
            case byte[] s:
                MixU32(digest, 0);
                Mix(digest, s);
                break;
            case KvList l:
                MixU32(digest, 1);
                foreach (var e in l.Items()) Mix(digest, e);
                break;
            case KvSet set:
                MixU32(digest, 2);
                foreach (var m in set.Members()) Xor(digest, m);
                break;
            case KvZSet z:
            {
                MixU32(digest, 3);
                Span<byte> e = stackalloc byte[20];
                foreach (var (member, score) in z.Ascending())
                {
                    e.Clear();
                    Mix(e, member);
                    Mix(e, Encoding.ASCII.GetBytes(RdbStrings.G17(score)));
                    Xor(digest, e);
                }
                break;
            }
            case KvHash h:
            {
                MixU32(digest, 4);
                Span<byte> e = stackalloc byte[20];
                foreach (var kv in h.Pairs())
                {
                    e.Clear();
                    Mix(e, kv.Key);
                    Mix(e, kv.Value);
                    Xor(digest, e);
                }
                break;
            }
            default:
                throw new ArgumentException($"unknown value type {value.GetType().Name}", nameof(value));
        }
        if (hasExpire) Xor(digest, "!!expire!!"u8);
    }

    /// <summary>DEBUG DIGEST-VALUE for one key (no expiry check, as redis): 40 hex chars, zeros when missing.</summary>
    public static string OfKey(RedisDb db, ReadOnlySpan<byte> key)
    {
        Span<byte> d = stackalloc byte[20];
        d.Clear();
        var v = db.Get(key);
        if (v is not null) XorObject(d, v, db.GetExpire(key) != -1);
        return Convert.ToHexStringLower(d);
    }

    /// <summary>DEBUG DIGEST of all databases: 40 hex chars, all zeros for an empty dataset.</summary>
    public static string OfDataset(IReadOnlyList<RedisDb> dbs)
    {
        Span<byte> final = stackalloc byte[20];
        Span<byte> kd = stackalloc byte[20];
        final.Clear();
        for (int j = 0; j < dbs.Count; j++)
        {
            var db = dbs[j];
            if (db.Count == 0) continue;
            MixU32(final, (uint)j);
            foreach (var kv in db.Main.Entries())
            {
                kd.Clear();
                Mix(kd, kv.Key);
                XorObject(kd, kv.Value, db.Expires.ContainsKey(kv.Key));
                Xor(final, kd);
            }
        }
        return Convert.ToHexStringLower(final);
    }
}
