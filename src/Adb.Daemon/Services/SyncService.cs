using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Adb.Daemon.Native;
using Adb.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Adb.Daemon.Services;

/// <summary>
/// What a sync session may touch. <see cref="ReadWrite"/> (the <c>sync</c> capability) acts as the connection's
/// identity; <see cref="ReadRoots"/> (<c>sync-read=PATH</c>) allows STAT/LIST/RECV below those folders with the
/// daemon's own privileges (after resolving symlinks), and nothing else.
/// </summary>
internal sealed record SyncPolicy(bool ReadWrite, IReadOnlyList<string> ReadRoots, Identity Identity, string Fingerprint);

/// <summary>
/// <c>sync:</c> (AOSP <c>daemon/file_sync_service.cpp</c>): STAT, STA2, LST2, LIST, LIS2, SEND, RECV, QUIT with the
/// exact record sizes of <see cref="SyncProtocol"/>. SEND writes to a temporary name in the target folder and
/// renames it over the final name only after DONE, so an interrupted push never leaves a partial file there.
/// The temporary name is <c>.NAME.adbd-PID-RANDOM.tmp</c> (PID: the daemon's process id, RANDOM: 8 hex digits);
/// a daemon killed mid-push (SIGKILL: no chance to delete it) leaves it behind, and the next push into that
/// folder removes every such file whose daemon process no longer exists (<see cref="RemoveStaleTemps"/>).
/// </summary>
internal sealed class SyncService
{
    private readonly SyncPolicy _policy;
    private readonly ILogger _log;
    private readonly byte[] _buffer = new byte[SyncProtocol.RequestSize + SyncProtocol.DataMax];
    /// <summary>Folders already swept for stale temp files in this session (one directory scan per folder).</summary>
    private readonly HashSet<string> _swept = new(StringComparer.Ordinal);

    public SyncService(SyncPolicy policy, ILogger log)
    {
        _policy = policy;
        _log = log;
    }

    public async Task RunAsync(AdbSocket s)
    {
        byte[] header = new byte[SyncProtocol.RequestSize];
        while (true)
        {
            try { await s.ReadExactlyAsync(header).ConfigureAwait(false); }
            catch (EndOfStreamException) { return; }
            var (id, len) = SyncProtocol.ReadHeader(header);
            if (id == SyncCommand.QUIT) return;
            if (id is not (SyncCommand.STAT or SyncCommand.STA2 or SyncCommand.LST2 or SyncCommand.LIST or SyncCommand.LIS2 or SyncCommand.SEND or SyncCommand.RECV))
            {
                await s.WriteAsync(SyncProtocol.Fail($"unknown sync command {SyncCommand.Name(id)}")).ConfigureAwait(false);
                return;
            }
            if (len > SyncProtocol.PathMax)
            {
                await s.WriteAsync(SyncProtocol.Fail($"path too long ({len} bytes, limit {SyncProtocol.PathMax})")).ConfigureAwait(false);
                return;
            }
            byte[] pathBytes = new byte[len];
            await s.ReadExactlyAsync(pathBytes).ConfigureAwait(false);
            string path = Encoding.UTF8.GetString(pathBytes);
            switch (id)
            {
                case SyncCommand.STAT: await StatV1Async(s, path).ConfigureAwait(false); break;
                case SyncCommand.STA2: await StatV2Async(s, path, follow: true).ConfigureAwait(false); break;
                case SyncCommand.LST2: await StatV2Async(s, path, follow: false).ConfigureAwait(false); break;
                case SyncCommand.LIST: await ListAsync(s, path, v2: false).ConfigureAwait(false); break;
                case SyncCommand.LIS2: await ListAsync(s, path, v2: true).ConfigureAwait(false); break;
                case SyncCommand.RECV: await RecvAsync(s, path).ConfigureAwait(false); break;
                case SyncCommand.SEND:
                    if (!await SendAsync(s, path).ConfigureAwait(false)) return;
                    break;
            }
        }
    }

    // ---------------- access policy ----------------

    private enum Access { Denied, AsIdentity, Privileged }

    /// <summary>Decides how a read of <paramref name="path"/> runs. <paramref name="follow"/>: the final component
    /// is resolved too (stat, open); otherwise only its parent (lstat).</summary>
    private Access ReadAccess(string path, bool follow)
    {
        if (_policy.ReadRoots.Count > 0 && path.StartsWith('/'))
        {
            string? resolved = Resolve(path, follow);
            if (resolved is not null && _policy.ReadRoots.Any(r => Under(resolved, r))) return Access.Privileged;
        }
        return _policy.ReadWrite ? Access.AsIdentity : Access.Denied;
    }

    private static bool Under(string path, string root)
    {
        string? r = Libc.RealPath(root, out _);
        if (r is null) return false;
        return path == r || path.StartsWith(r == "/" ? "/" : r + "/", StringComparison.Ordinal);
    }

    private static string? Resolve(string path, bool follow)
    {
        if (follow)
        {
            string? full = Libc.RealPath(path, out _);
            if (full is not null) return full;
        }
        string trimmed = path.Length > 1 ? path.TrimEnd('/') : path;
        string name = Path.GetFileName(trimmed);
        string? parent = Path.GetDirectoryName(trimmed);
        if (parent is null || name is "." or ".." or "") return Libc.RealPath(trimmed, out _);
        string? p = Libc.RealPath(parent, out _);
        return p is null ? null : (p == "/" ? "/" : p + "/") + name;
    }

    private T Run<T>(Access access, Func<T> op) => access == Access.AsIdentity ? _policy.Identity.Impersonate(op) : op();

    private string Denied => $"permission denied: key {_policy.Fingerprint} has no sync access to this path";

    // ---------------- STAT ----------------

    private async Task StatV1Async(AdbSocket s, string path)
    {
        var access = ReadAccess(path, follow: false);
        StatInfo st = default;
        int err = access == Access.Denied ? Libc.EACCES : Run(access, () => Libc.Stat(path, false, out st));
        byte[] reply = new byte[SyncProtocol.StatV1Size];
        (err == 0 ? new SyncStatV1(st.Mode, (uint)st.Size, (uint)st.Mtime) : new SyncStatV1(0, 0, 0)).WriteTo(reply);
        await s.WriteAsync(reply).ConfigureAwait(false);
    }

    private static SyncStatV2 ToV2(StatInfo st) =>
        new(0, st.Dev, st.Ino, st.Mode, st.Nlink, st.Uid, st.Gid, (ulong)st.Size, st.Atime, st.Mtime, st.Ctime);

    private async Task StatV2Async(AdbSocket s, string path, bool follow)
    {
        var access = ReadAccess(path, follow);
        StatInfo st = default;
        int err = access == Access.Denied ? Libc.EACCES : Run(access, () => Libc.Stat(path, follow, out st));
        byte[] reply = new byte[SyncProtocol.StatV2Size];
        (err == 0 ? ToV2(st) : SyncStatV2.FromError((uint)err)).WriteTo(reply, follow ? SyncCommand.STA2 : SyncCommand.LST2);
        await s.WriteAsync(reply).ConfigureAwait(false);
    }

    // ---------------- LIST ----------------

    private async Task ListAsync(AdbSocket s, string path, bool v2)
    {
        var access = ReadAccess(path, follow: true);
        List<(string Name, int Err, StatInfo St)> entries = [];
        if (access != Access.Denied)
        {
            entries = Run(access, () =>
            {
                var list = new List<(string, int, StatInfo)>();
                string dir = path.Length > 1 ? path.TrimEnd('/') : path;
                List<string> names;
                try
                {
                    names = [".", "..", .. Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).OfType<string>()];
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException) { return list; }
                foreach (string n in names)
                {
                    int e = Libc.Stat(dir == "/" ? "/" + n : dir + "/" + n, false, out var st);
                    list.Add((n, e, st));
                }
                return list;
            });
        }
        foreach (var (name, err, st) in entries)
        {
            if (v2) await s.WriteAsync(SyncDent.V2(err == 0 ? ToV2(st) : SyncStatV2.FromError((uint)err), name)).ConfigureAwait(false);
            else if (err == 0) await s.WriteAsync(SyncDent.V1(st.Mode, (uint)st.Size, (uint)st.Mtime, name)).ConfigureAwait(false);
        }
        await s.WriteAsync(v2 ? SyncDent.V2Done() : SyncDent.V1Done()).ConfigureAwait(false);
    }

    // ---------------- RECV ----------------

    private async Task RecvAsync(AdbSocket s, string path)
    {
        var access = ReadAccess(path, follow: true);
        if (access == Access.Denied)
        {
            await s.WriteAsync(SyncProtocol.Fail("open failed: " + Denied)).ConfigureAwait(false);
            return;
        }
        int fd = Run(access, () => Libc.Open(path, Libc.O_RDONLY));
        if (fd < 0)
        {
            await s.WriteAsync(SyncProtocol.Fail("open failed: " + Libc.StrError(-fd))).ConfigureAwait(false);
            return;
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (access == Access.Privileged)
        {
            // Re-check what was actually opened (a symlink may have been swapped in after the first check).
            string? opened = Libc.RealPath($"/proc/self/fd/{fd}", out _);
            if (opened is null || !_policy.ReadRoots.Any(r => Under(opened, r)))
            {
                await s.WriteAsync(SyncProtocol.Fail("open failed: " + Denied)).ConfigureAwait(false);
                return;
            }
        }
        if (Libc.Stat($"/proc/self/fd/{fd}", true, out var st) == 0 && st.IsDirectory)
        {
            await s.WriteAsync(SyncProtocol.Fail("read failed: " + Libc.StrError(Libc.EISDIR))).ConfigureAwait(false);
            return;
        }
        using var file = new FileStream(handle, FileAccess.Read, 0);
        while (true)
        {
            // Read straight into the stream's outbound pipe: DATA header, then up to 64 KiB of file.
            var mem = s.GetOutputMemory(SyncProtocol.RequestSize + SyncProtocol.DataMax);
            int n;
            try { n = file.Read(mem.Span.Slice(SyncProtocol.RequestSize, SyncProtocol.DataMax)); }
            catch (IOException ex)
            {
                await s.WriteAsync(SyncProtocol.Fail("read failed: " + ex.Message)).ConfigureAwait(false);
                return;
            }
            if (n == 0) break;
            SyncProtocol.WriteHeader(mem.Span, SyncCommand.DATA, (uint)n);
            await s.CommitAsync(SyncProtocol.RequestSize + n).ConfigureAwait(false);
        }
        byte[] done = new byte[SyncProtocol.RequestSize];
        SyncProtocol.WriteHeader(done, SyncCommand.DONE, 0);
        await s.WriteAsync(done).ConfigureAwait(false);
    }

    // ---------------- SEND ----------------

    /// <returns>False when the session must end (protocol error).</returns>
    private async Task<bool> SendAsync(AdbSocket s, string spec)
    {
        string? error = null;
        if (!SyncProtocol.TryParseSendSpec(spec, out string path, out uint mode)) error = "missing , in ID_SEND";
        else if (!_policy.ReadWrite)
            error = _policy.ReadRoots.Count > 0
                ? $"permission denied: key {_policy.Fingerprint} has read-only sync access (sync-read={string.Join(",", _policy.ReadRoots)})"
                : $"permission denied: key {_policy.Fingerprint} lacks the 'sync' capability";
        else if (!path.StartsWith('/')) error = $"secure_mkdirs failed: path '{path}' is not absolute";

        bool symlink = (mode & StatInfo.S_IFMT) == StatInfo.S_IFLNK;
        FileStream? file = null;
        string? tmp = null;
        var linkTarget = symlink ? new MemoryStream() : null;
        try
        {
            if (error is null && !symlink) error = OpenTemp(path, mode, out file, out tmp);
            byte[] header = new byte[SyncProtocol.RequestSize];
            while (true)
            {
                await s.ReadExactlyAsync(header).ConfigureAwait(false);
                var (id, len) = SyncProtocol.ReadHeader(header);
                if (id == SyncCommand.DONE)
                {
                    if (error is null && !symlink && tmp is null)
                    {
                        try { file!.Dispose(); } catch (IOException ex) { error = "write failed: " + ex.Message; }
                        file = null;
                    }
                    else if (error is null)
                    {
                        error = symlink ? FinishSymlink(path, linkTarget!) : FinishFile(file!, tmp!, path, len);
                        file = null;
                        tmp = null;
                    }
                    if (error is null)
                    {
                        byte[] ok = new byte[SyncProtocol.RequestSize];
                        SyncProtocol.WriteHeader(ok, SyncCommand.OKAY, 0);
                        await s.WriteAsync(ok).ConfigureAwait(false);
                    }
                    else await s.WriteAsync(SyncProtocol.Fail(error)).ConfigureAwait(false);
                    return true;
                }
                if (id != SyncCommand.DATA)
                {
                    await s.WriteAsync(SyncProtocol.Fail($"invalid data message: expected DATA or DONE, got {SyncCommand.Name(id)}")).ConfigureAwait(false);
                    return false;
                }
                if (len > SyncProtocol.DataMax)
                {
                    await s.WriteAsync(SyncProtocol.Fail("oversize data message")).ConfigureAwait(false);
                    return false;
                }
                await s.ReadExactlyAsync(_buffer.AsMemory(0, (int)len)).ConfigureAwait(false);
                if (error is not null) continue; // keep draining until DONE, then report once
                try
                {
                    if (symlink) linkTarget!.Write(_buffer, 0, (int)len);
                    else file!.Write(_buffer, 0, (int)len);
                }
                catch (IOException ex) { error = "write failed: " + ex.Message; }
            }
        }
        finally
        {
            if (file is not null) { try { file.Dispose(); } catch (IOException) { } }
            if (tmp is not null) _policy.Identity.Impersonate(() => { try { File.Delete(tmp); } catch (Exception) { } });
        }
    }

    private string? OpenTemp(string path, uint mode, out FileStream? file, out string? tmp)
    {
        file = null;
        tmp = null;
        string? dir = Path.GetDirectoryName(path);
        string name = Path.GetFileName(path);
        if (dir is null || name.Length == 0) return "couldn't create file: Is a directory";
        string t = Path.Combine(dir, TempName(name, Environment.ProcessId, (uint)Random.Shared.Next()));
        bool inPlace = false;
        int fdOrErr = _policy.Identity.Impersonate(() =>
        {
            if (Libc.Stat(path, true, out var st) == 0)
            {
                if (st.IsDirectory) return -Libc.EISDIR;
                if (!st.IsRegular)
                {
                    // A device or FIFO (e.g. /dev/null): write into it; renaming over it would replace the node.
                    inPlace = true;
                    return Libc.Open(path, Libc.O_WRONLY);
                }
            }
            try { Directory.CreateDirectory(dir); }
            catch (UnauthorizedAccessException) { return -1000 - Libc.EACCES; }
            catch (IOException) { return -1000 - Libc.ENOTDIR; }
            if (_swept.Add(dir)) RemoveStaleTemps(dir);
            return Libc.Open(t, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL, mode & 0xFFF);
        });
        if (fdOrErr <= -1000) return "secure_mkdirs failed: " + Libc.StrError(-fdOrErr - 1000);
        if (fdOrErr < 0) return "couldn't create file: " + Libc.StrError(-fdOrErr);
        var handle = new SafeFileHandle(fdOrErr, ownsHandle: true);
        if (!inPlace)
        {
            try { File.SetUnixFileMode(handle, (UnixFileMode)(mode & 0xFFF)); } catch (Exception) { }
        }
        file = new FileStream(handle, FileAccess.Write, 0);
        tmp = inPlace ? null : t;
        return null;
    }

    /// <summary>The temp file name SEND writes to before the rename: <c>.NAME.adbd-PID-XXXXXXXX.tmp</c>.</summary>
    internal static string TempName(string name, int pid, uint random) => $".{name}.adbd-{pid}-{random:x8}.tmp";

    /// <summary>
    /// If <paramref name="fileName"/> has the shape of <see cref="TempName"/>, returns true with the pid of the
    /// daemon that created it.
    /// </summary>
    internal static bool TryParseTempName(string fileName, out int pid)
    {
        pid = 0;
        // ".X.adbd-PID-XXXXXXXX.tmp": at least one character of name, then the fixed parts.
        if (!fileName.StartsWith('.') || !fileName.EndsWith(".tmp", StringComparison.Ordinal)) return false;
        string core = fileName[..^4];
        int dash = core.LastIndexOf('-');
        if (dash < 0 || core.Length - dash - 1 != 8) return false;
        foreach (char c in core.AsSpan(dash + 1)) if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c)) return false;
        int marker = core.LastIndexOf(".adbd-", dash, StringComparison.Ordinal);
        if (marker < 2 || dash - marker - 6 <= 0) return false;
        var digits = core.AsSpan(marker + 6, dash - marker - 6);
        if (digits.Length is 0 or > 10) return false;
        foreach (char c in digits) if (!char.IsAsciiDigit(c)) return false;
        return int.TryParse(digits, out pid) && pid > 0;
    }

    /// <summary>
    /// Deletes the temp files an earlier daemon left in <paramref name="dir"/> when it was killed mid-push: only
    /// regular files (not symlinks) named by <see cref="TempName"/> whose creating process is gone (no /proc/PID).
    /// A live pid (this daemon, or another one still pushing) keeps its file. Runs as the session's identity.
    /// </summary>
    internal int RemoveStaleTemps(string dir)
    {
        int removed = 0;
        try
        {
            foreach (string f in Directory.EnumerateFiles(dir, ".*.adbd-*-*.tmp"))
            {
                if (!TryParseTempName(Path.GetFileName(f), out int pid)) continue;
                if (pid == Environment.ProcessId || Directory.Exists($"/proc/{pid}")) continue;
                if (Libc.Stat(f, false, out var st) != 0 || !st.IsRegular) continue;
                try
                {
                    File.Delete(f);
                    removed++;
                    _log.LogInformation("sync: removed stale temp file {File} (its adbd, pid {Pid}, is gone)", f, pid);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        return removed;
    }

    private string? FinishFile(FileStream file, string tmp, string path, uint mtime)
    {
        try { file.Dispose(); }
        catch (IOException ex) { Cleanup(tmp); return "write failed: " + ex.Message; }
        return _policy.Identity.Impersonate(() =>
        {
            Libc.SetTimes(tmp, mtime);
            try { File.Move(tmp, path, overwrite: true); return null; }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                try { File.Delete(tmp); } catch (Exception) { }
                return "couldn't rename file: " + ex.Message;
            }
        });
    }

    private void Cleanup(string tmp) => _policy.Identity.Impersonate(() => { try { File.Delete(tmp); } catch (Exception) { } });

    private string? FinishSymlink(string path, MemoryStream target)
    {
        string t = Encoding.UTF8.GetString(target.GetBuffer(), 0, (int)target.Length).TrimEnd('\0');
        return _policy.Identity.Impersonate(() =>
        {
            string? dir = Path.GetDirectoryName(path);
            try { if (dir is not null) Directory.CreateDirectory(dir); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return "secure_mkdirs failed: " + ex.Message; }
            if (Libc.Stat(path, false, out _) == 0) { try { File.Delete(path); } catch (Exception) { } }
            int err = Libc.Symlink(t, path);
            return err == 0 ? null : "symlink failed: " + Libc.StrError(err);
        });
    }
}
