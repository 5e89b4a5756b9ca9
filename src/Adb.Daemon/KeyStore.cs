using System.Text;
using Adb.Protocol;

namespace Adb.Daemon;

/// <summary>
/// What an authorized key may do. Parsed from the options before the key in the keys file, authorized_keys style:
/// <c>shell</c>, <c>sync</c>, <c>sync-read=PATH</c> (repeatable), <c>forward</c>, <c>reverse</c>, <c>root</c>.
/// A line without options grants <see cref="Default"/> (shell, sync, forward, reverse).
/// </summary>
public sealed record Capabilities(bool Shell, bool Sync, IReadOnlyList<string> SyncRead, bool Forward, bool Reverse, bool Root)
{
    /// <summary>Grant of a line without options: shell, sync, forward, reverse.</summary>
    public static readonly Capabilities Default = new(true, true, [], true, true, false);

    /// <summary>Parses a comma-separated option list, e.g. <c>sync-read=/var/log/app,shell</c>. Values may be double-quoted.</summary>
    /// <param name="options">The option text.</param>
    /// <returns>The capabilities.</returns>
    /// <exception cref="FormatException">Unknown option, or a relative sync-read path.</exception>
    public static Capabilities Parse(string options)
    {
        bool shell = false, sync = false, forward = false, reverse = false, root = false;
        var reads = new List<string>();
        foreach (string raw in SplitOptions(options))
        {
            string opt = raw.Trim();
            if (opt.Length == 0) continue;
            if (opt.StartsWith("sync-read=", StringComparison.Ordinal))
            {
                string path = opt["sync-read=".Length..].Trim('"');
                if (!path.StartsWith('/')) throw new FormatException($"sync-read needs an absolute path, got '{path}'");
                reads.Add(path.Length > 1 ? path.TrimEnd('/') : path);
                continue;
            }
            switch (opt)
            {
                case "shell": shell = true; break;
                case "sync": sync = true; break;
                case "forward": forward = true; break;
                case "reverse": reverse = true; break;
                case "root": root = true; break;
                default: throw new FormatException($"unknown capability '{opt}' (known: shell, sync, sync-read=PATH, forward, reverse, root)");
            }
        }
        return new Capabilities(shell, sync, reads, forward, reverse, root);
    }

    private static IEnumerable<string> SplitOptions(string s)
    {
        var sb = new StringBuilder();
        bool quoted = false;
        foreach (char c in s)
        {
            if (c == '"') quoted = !quoted;
            if (c == ',' && !quoted) { yield return sb.ToString(); sb.Clear(); }
            else sb.Append(c);
        }
        yield return sb.ToString();
    }

    /// <summary>Option text for the keys file (empty for <see cref="Default"/>).</summary>
    /// <returns>E.g. <c>shell,sync-read="/var/log"</c>.</returns>
    public string Format()
    {
        if (this == Default || (Shell && Sync && Forward && Reverse && !Root && SyncRead.Count == 0)) return "";
        var parts = new List<string>();
        if (Shell) parts.Add("shell");
        if (Sync) parts.Add("sync");
        parts.AddRange(SyncRead.Select(p => p.Contains(' ') || p.Contains(',') ? $"sync-read=\"{p}\"" : "sync-read=" + p));
        if (Forward) parts.Add("forward");
        if (Reverse) parts.Add("reverse");
        if (Root) parts.Add("root");
        return string.Join(',', parts);
    }

    /// <summary>Human list for logs and <c>adbd keys list</c>.</summary>
    /// <returns>E.g. "shell,sync,forward,reverse".</returns>
    public override string ToString()
    {
        string f = Format();
        return f.Length == 0 ? "shell,sync,forward,reverse" : f;
    }

    /// <summary>Capabilities equal when all flags and read paths match.</summary>
    /// <param name="other">Other value.</param>
    /// <returns>True when equal.</returns>
    public bool Equals(Capabilities? other) => other is not null && Shell == other.Shell && Sync == other.Sync &&
        Forward == other.Forward && Reverse == other.Reverse && Root == other.Root && SyncRead.SequenceEqual(other.SyncRead);

    /// <summary>Hash of the flags.</summary>
    /// <returns>Hash code.</returns>
    public override int GetHashCode() => HashCode.Combine(Shell, Sync, Forward, Reverse, Root, SyncRead.Count);
}

/// <summary>One key line: the 524-byte key, its MD5 fingerprint, comment and capabilities.</summary>
/// <param name="PublicKey">Android-encoded key (524 bytes).</param>
/// <param name="Fingerprint">MD5 fingerprint (AA:BB:...).</param>
/// <param name="Comment">Comment ("user@host").</param>
/// <param name="Capabilities">Granted capabilities.</param>
public sealed record AuthorizedKey(byte[] PublicKey, string Fingerprint, string Comment, Capabilities Capabilities)
{
    /// <summary>The keys-file line for this key.</summary>
    /// <returns>"[options ]base64 comment".</returns>
    public string ToLine()
    {
        string opts = Capabilities.Format();
        string key = AndroidPublicKey.FormatLine(PublicKey, Comment);
        return opts.Length == 0 ? key : opts + " " + key;
    }
}

/// <summary>
/// The keys file (<c>--keys FILE</c>, adb_keys lines with optional capability options) and its pending list
/// (<c>FILE.pending</c>: keys offered by hosts through AUTH RSAPUBLICKEY, waiting for <c>adbd keys approve</c>).
/// Files are rewritten atomically (temp file + rename). Malformed lines are reported and skipped.
/// </summary>
public sealed class KeyStore
{
    /// <summary>Path of the keys file.</summary>
    public string KeysPath { get; }

    /// <summary>Path of the pending-keys file (<see cref="KeysPath"/> + ".pending").</summary>
    public string PendingPath => KeysPath + ".pending";

    /// <summary>Creates a store over <paramref name="keysPath"/> (the file may not exist yet).</summary>
    /// <param name="keysPath">Keys file path.</param>
    public KeyStore(string keysPath) => KeysPath = Path.GetFullPath(keysPath);

    /// <summary>Reads the authorized keys.</summary>
    /// <param name="errors">Receives one message per skipped line (line number and reason).</param>
    /// <returns>The keys in file order.</returns>
    public List<AuthorizedKey> LoadAuthorized(List<string>? errors = null) => Load(KeysPath, withOptions: true, errors);

    /// <summary>Reads the pending keys.</summary>
    /// <returns>The pending keys (capabilities = default).</returns>
    public List<AuthorizedKey> LoadPending() => Load(PendingPath, withOptions: false, null);

    /// <summary>Parses one keys-file line. Returns null for blank lines and comments.</summary>
    /// <param name="line">The text line.</param>
    /// <returns>The key, or null.</returns>
    /// <exception cref="FormatException">Malformed options or key.</exception>
    public static AuthorizedKey? ParseLine(string line)
    {
        string s = line.Trim();
        if (s.Length == 0 || s.StartsWith('#')) return null;
        string first = FirstToken(s, out string rest);
        Capabilities caps = Capabilities.Default;
        byte[] blob;
        string comment;
        try { blob = AndroidPublicKey.ParseLine(s, out comment); }
        catch (AdbProtocolException)
        {
            caps = Capabilities.Parse(first);
            try { blob = AndroidPublicKey.ParseLine(rest, out comment); }
            catch (AdbProtocolException ex) { throw new FormatException(ex.Message, ex); }
        }
        return new AuthorizedKey(blob, AndroidPublicKey.Fingerprint(blob), comment, caps);
    }

    private static string FirstToken(string s, out string rest)
    {
        bool quoted = false;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '"') quoted = !quoted;
            else if (!quoted && (s[i] == ' ' || s[i] == '\t')) { rest = s[(i + 1)..].TrimStart(); return s[..i]; }
        }
        rest = "";
        return s;
    }

    private static List<AuthorizedKey> Load(string path, bool withOptions, List<string>? errors)
    {
        var result = new List<AuthorizedKey>();
        if (!File.Exists(path)) return result;
        int n = 0;
        foreach (string line in File.ReadAllLines(path))
        {
            n++;
            try
            {
                var k = withOptions ? ParseLine(line) : ParsePlain(line);
                if (k is not null && !result.Any(x => x.Fingerprint == k.Fingerprint)) result.Add(k);
            }
            catch (FormatException ex) { errors?.Add($"{path}:{n}: {ex.Message}"); }
        }
        return result;
    }

    private static AuthorizedKey? ParsePlain(string line)
    {
        if (line.Trim().Length == 0) return null;
        try
        {
            byte[] blob = AndroidPublicKey.ParseLine(line, out string comment);
            return new AuthorizedKey(blob, AndroidPublicKey.Fingerprint(blob), comment, Capabilities.Default);
        }
        catch (AdbProtocolException ex) { throw new FormatException(ex.Message, ex); }
    }

    /// <summary>Adds a key to the pending list unless it is already pending or authorized.</summary>
    /// <param name="publicKey">524-byte key.</param>
    /// <param name="comment">Host comment.</param>
    /// <returns>True when added.</returns>
    public bool AddPending(byte[] publicKey, string comment)
    {
        string fp = AndroidPublicKey.Fingerprint(publicKey);
        if (LoadAuthorized().Any(k => k.Fingerprint == fp)) return false;
        var pending = LoadPending();
        if (pending.Any(k => k.Fingerprint == fp)) return false;
        pending.Add(new AuthorizedKey(publicKey, fp, comment, Capabilities.Default));
        WriteAll(PendingPath, pending.Select(k => AndroidPublicKey.FormatLine(k.PublicKey, k.Comment)));
        return true;
    }

    /// <summary>Moves a pending key (matched by fingerprint, or a unique prefix of it) into the keys file.</summary>
    /// <param name="fingerprint">Fingerprint or unique prefix (case-insensitive).</param>
    /// <param name="capabilities">Grant; null for the default.</param>
    /// <returns>The approved key.</returns>
    /// <exception cref="KeyNotFoundException">No single pending key matches.</exception>
    public AuthorizedKey Approve(string fingerprint, Capabilities? capabilities)
    {
        var pending = LoadPending();
        var match = Find(pending, fingerprint);
        var approved = match with { Capabilities = capabilities ?? Capabilities.Default };
        var keys = LoadAuthorized();
        keys.RemoveAll(k => k.Fingerprint == match.Fingerprint);
        keys.Add(approved);
        WriteAll(KeysPath, PreservedLines(keys));
        pending.Remove(match);
        WriteAll(PendingPath, pending.Select(k => AndroidPublicKey.FormatLine(k.PublicKey, k.Comment)));
        return approved;
    }

    /// <summary>Removes an authorized key.</summary>
    /// <param name="fingerprint">Fingerprint or unique prefix.</param>
    /// <returns>The removed key.</returns>
    /// <exception cref="KeyNotFoundException">No single authorized key matches.</exception>
    public AuthorizedKey Revoke(string fingerprint)
    {
        var keys = LoadAuthorized();
        var match = Find(keys, fingerprint);
        keys.Remove(match);
        WriteAll(KeysPath, PreservedLines(keys));
        return match;
    }

    /// <summary>Drops a pending key without authorizing it.</summary>
    /// <param name="fingerprint">Fingerprint or unique prefix.</param>
    /// <returns>The dropped key.</returns>
    /// <exception cref="KeyNotFoundException">No single pending key matches.</exception>
    public AuthorizedKey Deny(string fingerprint)
    {
        var pending = LoadPending();
        var match = Find(pending, fingerprint);
        pending.Remove(match);
        WriteAll(PendingPath, pending.Select(k => AndroidPublicKey.FormatLine(k.PublicKey, k.Comment)));
        return match;
    }

    private IEnumerable<string> PreservedLines(List<AuthorizedKey> keys) => keys.Select(k => k.ToLine());

    private static AuthorizedKey Find(List<AuthorizedKey> keys, string fingerprint)
    {
        string f = fingerprint.Trim().ToUpperInvariant();
        var matches = keys.Where(k => k.Fingerprint == f).ToList();
        if (matches.Count == 0) matches = keys.Where(k => k.Fingerprint.StartsWith(f, StringComparison.Ordinal) || k.Fingerprint.Replace(":", "").StartsWith(f.Replace(":", ""), StringComparison.Ordinal)).ToList();
        if (matches.Count != 1)
            throw new KeyNotFoundException(matches.Count == 0 ? $"no key with fingerprint '{fingerprint}'" : $"fingerprint '{fingerprint}' matches {matches.Count} keys");
        return matches[0];
    }

    private static void WriteAll(string path, IEnumerable<string> lines)
    {
        string tmp = path + ".tmp" + Environment.ProcessId;
        var text = new StringBuilder();
        foreach (string l in lines) text.Append(l).Append('\n');
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var fs = new FileStream(tmp, options)) fs.Write(Encoding.UTF8.GetBytes(text.ToString()));
        File.Move(tmp, path, overwrite: true);
    }
}
