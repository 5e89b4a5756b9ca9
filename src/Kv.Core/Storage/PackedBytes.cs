namespace Kv.Storage;

/// <summary>
/// Helpers for the compact "listpack-like" byte layouts of small hashes and sorted sets: a string is a varint
/// length (7 bits per byte, low group first) followed by its bytes. Buffers grow by about a quarter so repeated
/// appends stay amortised O(1) while the slack stays small.
/// </summary>
internal static class PackedBytes
{
    /// <summary>Bytes needed to encode <paramref name="len"/> as a varint.</summary>
    public static int LenSize(int len) => len < 0x80 ? 1 : len < 0x4000 ? 2 : len < 0x200000 ? 3 : len < 0x10000000 ? 4 : 5;

    /// <summary>Reads a varint at <paramref name="pos"/> and advances it.</summary>
    public static int ReadLen(ReadOnlySpan<byte> b, ref int pos)
    {
        int v = 0, shift = 0;
        while (true)
        {
            byte x = b[pos++];
            v |= (x & 0x7F) << shift;
            if (x < 0x80) return v;
            shift += 7;
        }
    }

    /// <summary>Writes a varint; returns the bytes written.</summary>
    public static int WriteLen(Span<byte> dst, int len)
    {
        int i = 0;
        uint v = (uint)len;
        while (v >= 0x80)
        {
            dst[i++] = (byte)(v | 0x80);
            v >>= 7;
        }
        dst[i++] = (byte)v;
        return i;
    }

    /// <summary>Writes a length-prefixed string; returns the bytes written.</summary>
    public static int WriteString(Span<byte> dst, ReadOnlySpan<byte> s)
    {
        int n = WriteLen(dst, s.Length);
        s.CopyTo(dst[n..]);
        return n + s.Length;
    }

    /// <summary>
    /// Grows <paramref name="buf"/> to at least <paramref name="need"/> bytes (rounded up to 8), keeping its first
    /// <paramref name="used"/> bytes; no effect when it is already big enough (bulk loading reserves room once).
    /// </summary>
    public static void Reserve(ref byte[] buf, int used, int need)
    {
        if (buf.Length >= need) return;
        var nb = new byte[(need + 7) & ~7];
        buf.AsSpan(0, used).CopyTo(nb);
        buf = nb;
    }

    /// <summary>
    /// Makes room for replacing <paramref name="oldLen"/> bytes at <paramref name="at"/> with <paramref name="newLen"/>
    /// bytes (shifting the tail), growing the buffer when needed. Returns the new used length.
    /// </summary>
    public static int Splice(ref byte[] buf, int used, int at, int oldLen, int newLen)
    {
        int newUsed = used - oldLen + newLen;
        if (newUsed > buf.Length)
        {
            int cap = Math.Max(newUsed, buf.Length + (buf.Length >> 2));
            cap = (cap + 7) & ~7;
            var nb = new byte[cap];
            buf.AsSpan(0, at).CopyTo(nb);
            buf.AsSpan(at + oldLen, used - at - oldLen).CopyTo(nb.AsSpan(at + newLen));
            buf = nb;
            return newUsed;
        }
        if (newLen != oldLen) buf.AsSpan(at + oldLen, used - at - oldLen).CopyTo(buf.AsSpan(at + newLen));
        return newUsed;
    }
}
