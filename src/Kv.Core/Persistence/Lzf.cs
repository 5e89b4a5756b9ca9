using System.Numerics;
using System.Runtime.CompilerServices;

namespace Kv.Persistence;

/// <summary>
/// LZF compression in the block format redis stores in RDB files (RDB_ENC_LZF strings). The format: a control
/// byte below 32 starts a literal run of ctrl+1 bytes; otherwise the top 3 bits are the match length minus 2
/// (7 means "add the next byte"), the low 5 bits are the high bits of the back distance minus one and the following
/// byte its low 8 bits; matches may overlap their own output. Written from that description (liblzf's format).
/// </summary>
[SkipLocalsInit]
public static class Lzf
{
    private const int MaxLiteral = 32;        // literal run length limit
    private const int MaxOffset = 1 << 13;    // back distance limit (8 KiB)
    private const int MaxMatch = 264;         // 7 + 255 + 2
    private const int HashBits = 14;

    /// <summary>
    /// Compresses <paramref name="input"/> into <paramref name="output"/>. Returns the number of bytes written, or 0
    /// when the result does not fit in <paramref name="output"/> (redis then stores the string uncompressed).
    /// </summary>
    public static int Compress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int n = input.Length;
        if (n == 0) return 0;
        // The hash table is sized to the input (at most 1 << HashBits entries): RDB strings are mostly small, and
        // filling a fixed 64 KiB table per string cost more than compressing it.
        int bits = Math.Clamp(32 - BitOperations.LeadingZeroCount((uint)n), 8, HashBits);
        Span<int> table = stackalloc int[1 << HashBits];
        table = table[..(1 << bits)];
        table.Fill(-1);
        int ip = 0, op = 0;
        int litStart = 0; // start of the pending literal run
        while (ip + 2 < n)
        {
            int h = Hash(input, ip, bits);
            int cand = table[h];
            table[h] = ip;
            int dist = ip - cand - 1;
            if (cand >= 0 && dist < MaxOffset && input[cand] == input[ip] && input[cand + 1] == input[ip + 1] && input[cand + 2] == input[ip + 2])
            {
                int max = Math.Min(MaxMatch, n - ip);
                int len = 3;
                while (len < max && input[cand + len] == input[ip + len]) len++;
                if (!FlushLiterals(input, litStart, ip, output, ref op)) return 0;
                int l = len - 2;
                if (l < 7)
                {
                    if (op + 2 > output.Length) return 0;
                    output[op++] = (byte)((l << 5) | (dist >> 8));
                }
                else
                {
                    if (op + 3 > output.Length) return 0;
                    output[op++] = (byte)((7 << 5) | (dist >> 8));
                    output[op++] = (byte)(l - 7);
                }
                output[op++] = (byte)dist;
                // Index a couple of positions inside the match so later repeats are found.
                int end = ip + len;
                for (int k = ip + 1; k < end && k + 2 < n; k++)
                {
                    int hk = Hash(input, k, bits);
                    table[hk] = k;
                }
                ip = end;
                litStart = ip;
            }
            else ip++;
        }
        if (!FlushLiterals(input, litStart, n, output, ref op)) return 0;
        return op;
    }

    private static int Hash(ReadOnlySpan<byte> s, int i, int bits) => (int)((uint)((s[i] << 16) | (s[i + 1] << 8) | s[i + 2]) * 0x9E3779B1u >> (32 - bits));

    private static bool FlushLiterals(ReadOnlySpan<byte> input, int from, int to, Span<byte> output, ref int op)
    {
        while (from < to)
        {
            int run = Math.Min(MaxLiteral, to - from);
            if (op + 1 + run > output.Length) return false;
            output[op++] = (byte)(run - 1);
            input.Slice(from, run).CopyTo(output[op..]);
            op += run;
            from += run;
        }
        return true;
    }

    /// <summary>
    /// Decompresses <paramref name="input"/> into exactly <paramref name="output"/>.Length bytes.
    /// </summary>
    /// <exception cref="InvalidDataException">The data is malformed or does not produce exactly that many bytes.</exception>
    public static void Decompress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int ip = 0, op = 0;
        while (ip < input.Length)
        {
            int ctrl = input[ip++];
            if (ctrl < 32)
            {
                int run = ctrl + 1;
                if (ip + run > input.Length) throw new InvalidDataException("LZF literal run past end of input");
                if (op + run > output.Length) throw new InvalidDataException("LZF output longer than declared");
                input.Slice(ip, run).CopyTo(output[op..]);
                ip += run;
                op += run;
            }
            else
            {
                int len = ctrl >> 5;
                if (len == 7)
                {
                    if (ip >= input.Length) throw new InvalidDataException("LZF truncated match length");
                    len += input[ip++];
                }
                if (ip >= input.Length) throw new InvalidDataException("LZF truncated match offset");
                int back = op - ((ctrl & 0x1F) << 8) - input[ip++] - 1;
                len += 2;
                if (back < 0) throw new InvalidDataException("LZF back reference before start of output");
                if (op + len > output.Length) throw new InvalidDataException("LZF output longer than declared");
                for (int k = 0; k < len; k++) output[op + k] = output[back + k];
                op += len;
            }
        }
        if (op != output.Length) throw new InvalidDataException($"LZF output is {op} bytes, expected {output.Length}");
    }
}
