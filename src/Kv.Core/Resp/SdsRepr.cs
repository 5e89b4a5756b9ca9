using System.Globalization;
using System.Text;

namespace Kv.Resp;

/// <summary>
/// sds.c sdscatrepr: bytes as a double-quoted C-like literal with \\ \" \n \r \t \a \b escapes and \xHH for the other
/// bytes outside 32..126. Used by MONITOR lines and by the command line turned into config lines.
/// </summary>
public static class SdsRepr
{
    /// <summary>Appends the quoted form of <paramref name="bytes"/> to <paramref name="sb"/>.</summary>
    public static StringBuilder Append(StringBuilder sb, ReadOnlySpan<byte> bytes)
    {
        sb.Append('"');
        foreach (var b in bytes)
        {
            switch (b)
            {
                case (byte)'\\': sb.Append("\\\\"); break;
                case (byte)'"': sb.Append("\\\""); break;
                case (byte)'\n': sb.Append("\\n"); break;
                case (byte)'\r': sb.Append("\\r"); break;
                case (byte)'\t': sb.Append("\\t"); break;
                case 7: sb.Append("\\a"); break;
                case 8: sb.Append("\\b"); break;
                default:
                    if (b >= 32 && b < 127) sb.Append((char)b);
                    else sb.Append("\\x").Append(b.ToString("x2", CultureInfo.InvariantCulture));
                    break;
            }
        }
        return sb.Append('"');
    }
}
