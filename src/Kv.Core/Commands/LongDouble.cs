using System.Numerics;
using System.Text;

namespace Kv.Commands;

/// <summary>
/// An exact software model of the x86-64 80-bit <c>long double</c> (64-bit significand with explicit integer bit,
/// 15-bit exponent, subnormals down to 2^-16445) that redis 7.0.15 uses for INCRBYFLOAT and HINCRBYFLOAT
/// (util.c string2ld / ld2string). Parsing follows glibc <c>strtold</c> (decimal, hex <c>0x..p..</c>, inf, nan;
/// correctly rounded, ties to even), addition is correctly rounded, and <see cref="ToHumanString"/> reproduces
/// <c>ld2string(LD_STR_HUMAN)</c>: <c>"%.17Lf"</c> with trailing zeros and dot removed, "-0" printed as "0".
/// Values are <c>(-1)^Negative * Mantissa * 2^Exponent</c>.
/// </summary>
public readonly struct LongDouble
{
    private const int MantBits = 64;
    private const int MinExp = -16445;                 // exponent of the smallest subnormal (2^-16445)
    private const int MaxExp = 16384 - MantBits;       // m < 2^64 and m*2^e < 2^16384

    private enum Kind : byte { Finite, Infinity, NaN }

    private readonly Kind _kind;

    /// <summary>True for a negative value (including -0 and -inf).</summary>
    public bool Negative { get; }

    /// <summary>Significand: 0, or below 2^64 (2^63 or more unless subnormal).</summary>
    public BigInteger Mantissa { get; }

    /// <summary>Binary exponent of <see cref="Mantissa"/>.</summary>
    public int Exponent { get; }

    private LongDouble(Kind kind, bool neg, BigInteger mant, int exp)
    {
        _kind = kind;
        Negative = neg;
        Mantissa = mant;
        Exponent = exp;
    }

    /// <summary>True for +inf or -inf.</summary>
    public bool IsInfinity => _kind == Kind.Infinity;

    /// <summary>True for NaN.</summary>
    public bool IsNaN => _kind == Kind.NaN;

    /// <summary>True for a finite value equal to zero.</summary>
    public bool IsZero => _kind == Kind.Finite && Mantissa.IsZero;

    /// <summary>Positive zero.</summary>
    public static LongDouble Zero => new(Kind.Finite, false, BigInteger.Zero, 0);

    /// <summary>
    /// Parses as redis's string2ld: the whole input must be a strtold number (no leading space, no trailing bytes,
    /// at most 5119 bytes), NaN is rejected, and so is an out-of-range result (overflow to inf, or underflow to 0).
    /// "inf"/"infinity" (any case, signed) are accepted.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> s, out LongDouble value)
    {
        value = Zero;
        if (s.Length == 0 || s.Length >= 5 * 1024) return false;
        if (IsSpace(s[0])) return false;
        int i = 0;
        bool neg = false;
        if (s[i] is (byte)'+' or (byte)'-') { neg = s[i] == (byte)'-'; i++; }
        var rest = s[i..];
        if (EqualsIgnoreCase(rest, "inf"u8) || EqualsIgnoreCase(rest, "infinity"u8))
        {
            value = new LongDouble(Kind.Infinity, neg, BigInteger.Zero, 0);
            return true;
        }
        if (rest.Length >= 3 && EqualsIgnoreCase(rest[..3], "nan"u8)) return false;
        // "0x" without hex digits parses as "0" followed by junk: rejected either way.
        return rest.Length > 2 && rest[0] == (byte)'0' && (rest[1] | 0x20) == (byte)'x'
            ? ParseHex(rest[2..], neg, out value, out _)
            : ParseDecimal(rest, neg, out value);
    }

    private static bool ParseDecimal(ReadOnlySpan<byte> s, bool neg, out LongDouble value)
    {
        value = Zero;
        var digits = new StringBuilder();
        int i = 0, fracDigits = 0;
        bool any = false, dot = false;
        for (; i < s.Length; i++)
        {
            byte c = s[i];
            if (c >= '0' && c <= '9') { any = true; digits.Append((char)c); if (dot) fracDigits++; }
            else if (c == '.' && !dot) dot = true;
            else break;
        }
        if (!any) return false;
        long exp10 = 0;
        if (i < s.Length)
        {
            if ((s[i] | 0x20) != 'e') return false;
            i++;
            bool eneg = false;
            if (i < s.Length && s[i] is (byte)'+' or (byte)'-') { eneg = s[i] == (byte)'-'; i++; }
            if (i >= s.Length) return false;
            for (; i < s.Length; i++)
            {
                uint d = (uint)(s[i] - '0');
                if (d > 9) return false;
                if (exp10 < 100_000_000) exp10 = exp10 * 10 + d;
            }
            if (eneg) exp10 = -exp10;
        }
        var n = BigInteger.Parse(digits.ToString(), System.Globalization.CultureInfo.InvariantCulture);
        exp10 -= fracDigits;
        if (n.IsZero) { value = new LongDouble(Kind.Finite, neg, BigInteger.Zero, 0); return true; }
        int nd = digits.ToString().TrimStart('0').Length;
        long mag = exp10 + nd; // value is in [10^(mag-1), 10^mag)
        if (mag > 4940) return false;            // beyond 1.19e4932: overflow (ERANGE, HUGE_VAL)
        if (mag < -4960) return false;           // below 3.6e-4951: underflow to zero (ERANGE, 0)
        value = exp10 >= 0
            ? Round(neg, n * BigInteger.Pow(10, (int)exp10), BigInteger.One, 0)
            : Round(neg, n, BigInteger.Pow(10, (int)-exp10), 0);
        return value._kind == Kind.Finite && !value.Mantissa.IsZero;
    }

    private static bool ParseHex(ReadOnlySpan<byte> s, bool neg, out LongDouble value, out bool anyDigits)
    {
        value = Zero;
        var n = BigInteger.Zero;
        int i = 0, fracDigits = 0;
        bool dot = false;
        anyDigits = false;
        for (; i < s.Length; i++)
        {
            byte c = s[i];
            int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
            if (d >= 0) { anyDigits = true; n = n * 16 + d; if (dot) fracDigits++; }
            else if (c == '.' && !dot) dot = true;
            else break;
        }
        if (!anyDigits) return false;
        long exp2 = 0;
        if (i < s.Length)
        {
            if ((s[i] | 0x20) != 'p') return false;
            i++;
            bool eneg = false;
            if (i < s.Length && s[i] is (byte)'+' or (byte)'-') { eneg = s[i] == (byte)'-'; i++; }
            if (i >= s.Length) return false;
            for (; i < s.Length; i++)
            {
                uint d = (uint)(s[i] - '0');
                if (d > 9) return false;
                if (exp2 < 100_000_000) exp2 = exp2 * 10 + d;
            }
            if (eneg) exp2 = -exp2;
        }
        exp2 -= 4L * fracDigits;
        if (n.IsZero) { value = new LongDouble(Kind.Finite, neg, BigInteger.Zero, 0); return true; }
        long top = exp2 + (long)n.GetBitLength();
        if (top > 16384) return false;
        if (top < -16500) return false;
        value = Round(neg, n, BigInteger.One, (int)exp2);
        return value._kind == Kind.Finite && !value.Mantissa.IsZero;
    }

    /// <summary>Rounds p/q * 2^exp2 (p, q &gt; 0) to the nearest long double, ties to even; overflow gives inf.</summary>
    private static LongDouble Round(bool neg, BigInteger p, BigInteger q, int exp2)
    {
        if (p.IsZero) return new LongDouble(Kind.Finite, neg, BigInteger.Zero, 0);
        // Choose e so that m = p/q * 2^(exp2 - e) lies in [2^63, 2^64).
        long e = exp2 + (long)p.GetBitLength() - (long)q.GetBitLength() - MantBits;
        while (true)
        {
            if (e < MinExp) e = MinExp;
            var (num, den) = Scale(p, q, exp2 - e);
            var m = BigInteger.DivRem(num, den, out var r);
            if (m.GetBitLength() > MantBits) { e++; continue; }
            if (m.GetBitLength() < MantBits && e > MinExp) { e--; continue; }
            var twice = r * 2;
            int cmp = twice.CompareTo(den);
            if (cmp > 0 || (cmp == 0 && !m.IsEven)) m += 1;
            if (m.GetBitLength() > MantBits) { m >>= 1; e++; }
            if (e > MaxExp) return new LongDouble(Kind.Infinity, neg, BigInteger.Zero, 0);
            return new LongDouble(Kind.Finite, neg, m, (int)e);
        }
    }

    private static (BigInteger Num, BigInteger Den) Scale(BigInteger p, BigInteger q, long shift)
        => shift >= 0 ? (p << (int)shift, q) : (p, q << (int)-shift);

    /// <summary>Correctly rounded sum (x87 FADD in round-to-nearest): inf + -inf is NaN, x + -x is +0.</summary>
    public static LongDouble operator +(LongDouble a, LongDouble b)
    {
        if (a.IsNaN || b.IsNaN) return new LongDouble(Kind.NaN, false, BigInteger.Zero, 0);
        if (a.IsInfinity || b.IsInfinity)
        {
            if (a.IsInfinity && b.IsInfinity && a.Negative != b.Negative) return new LongDouble(Kind.NaN, false, BigInteger.Zero, 0);
            return a.IsInfinity ? a : b;
        }
        if (a.IsZero && b.IsZero) return new LongDouble(Kind.Finite, a.Negative && b.Negative, BigInteger.Zero, 0);
        if (a.IsZero) return b;
        if (b.IsZero) return a;
        int emin = Math.Min(a.Exponent, b.Exponent);
        var x = a.Mantissa << (a.Exponent - emin);
        var y = b.Mantissa << (b.Exponent - emin);
        var sum = (a.Negative ? -x : x) + (b.Negative ? -y : y);
        if (sum.IsZero) return Zero;
        return Round(sum.Sign < 0, BigInteger.Abs(sum), BigInteger.One, emin);
    }

    /// <summary>
    /// ld2string(LD_STR_HUMAN) of 7.0.15: "%.17Lf" (exact decimal expansion rounded half-even to 17 places), then
    /// trailing zeros and a trailing dot removed, and "-0" turned into "0". Not meaningful for inf/NaN.
    /// </summary>
    public string ToHumanString()
    {
        var scale = BigInteger.Pow(10, 17);
        BigInteger n;
        if (Exponent >= 0)
        {
            n = (Mantissa << Exponent) * scale;
        }
        else
        {
            var num = Mantissa * scale;
            var den = BigInteger.One << -Exponent;
            n = BigInteger.DivRem(num, den, out var r);
            int cmp = (r * 2).CompareTo(den);
            if (cmp > 0 || (cmp == 0 && !n.IsEven)) n += 1;
        }
        var intPart = BigInteger.DivRem(n, scale, out var frac);
        var s = (Negative ? "-" : "") + intPart.ToString(System.Globalization.CultureInfo.InvariantCulture) + "."
                + frac.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(17, '0');
        s = s.TrimEnd('0');
        if (s.EndsWith('.')) s = s[..^1];
        if (s == "-0") s = "0";
        return s;
    }

    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f';

    private static bool EqualsIgnoreCase(ReadOnlySpan<byte> a, ReadOnlySpan<byte> lower)
    {
        if (a.Length != lower.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if ((a[i] | 0x20) != lower[i]) return false;
        return true;
    }
}
