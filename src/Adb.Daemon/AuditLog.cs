using System.Text;

namespace Adb.Daemon;

/// <summary>
/// Append-only audit log of every OPEN: one line per request,
/// <c>2026-11-29T21:00:00.123Z peer=127.0.0.1:40000 key=AA:BB:.. service="shell,v2,raw:id" result=ok</c>.
/// Results: <c>ok</c>, <c>refused (reason)</c>, <c>failed (reason)</c>. Writes are serialized and flushed.
/// </summary>
public sealed class AuditLog : IDisposable
{
    private readonly StreamWriter? _writer;
    private readonly Lock _lock = new();

    /// <summary>Opens (appends to) <paramref name="path"/>; null disables auditing.</summary>
    /// <param name="path">Log file path or null.</param>
    public AuditLog(string? path)
    {
        if (path is null) return;
        var fs = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        _writer = new StreamWriter(fs, new UTF8Encoding(false)) { AutoFlush = true };
    }

    /// <summary>Writes one record.</summary>
    /// <param name="peer">Remote endpoint of the connection.</param>
    /// <param name="fingerprint">Key fingerprint, or "-" when unauthenticated.</param>
    /// <param name="service">Service string as requested (control characters escaped).</param>
    /// <param name="result">"ok", "refused (...)" or "failed (...)".</param>
    public void Record(string peer, string fingerprint, string service, string result)
    {
        if (_writer is null) return;
        string line = $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} peer={peer} key={fingerprint} service=\"{Escape(service)}\" result={result}";
        lock (_lock) _writer.WriteLine(line);
    }

    private static string Escape(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            if (c == '"' || c == '\\') sb.Append('\\').Append(c);
            else if (char.IsControl(c)) sb.Append($"\\x{(int)c:x2}");
            else sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() { lock (_lock) _writer?.Dispose(); }
}
