namespace Adb.Protocol;

/// <summary>
/// A transport packet, sync record or shell packet violated the adb protocol (bad magic, payload longer than the
/// negotiated maximum, malformed key, truncated record...). The connection (or stream) that produced it should be
/// closed; other connections are unaffected.
/// </summary>
public sealed class AdbProtocolException : Exception
{
    /// <summary>Creates the exception with a message naming the violated rule.</summary>
    /// <param name="message">Human-readable description, e.g. "bad magic 0x00000000 for command CNXN".</param>
    public AdbProtocolException(string message) : base(message) { }

    /// <summary>Creates the exception wrapping a lower-level cause.</summary>
    /// <param name="message">Human-readable description.</param>
    /// <param name="inner">The underlying error.</param>
    public AdbProtocolException(string message, Exception inner) : base(message, inner) { }
}
