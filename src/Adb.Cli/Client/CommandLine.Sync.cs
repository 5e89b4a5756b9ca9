using System.Diagnostics;
using Adb.Protocol;

namespace Adb.Cli.Client;

internal sealed partial class CommandLine
{
    /// <summary>Linux errno → strerror text for the errors a sync STA2 reports.</summary>
    internal static string StrError(uint errno) => errno switch
    {
        1 => "Operation not permitted",
        2 => "No such file or directory",
        5 => "Input/output error",
        13 => "Permission denied",
        17 => "File exists",
        20 => "Not a directory",
        21 => "Is a directory",
        28 => "No space left on device",
        36 => "File name too long",
        40 => "Too many levels of symbolic links",
        _ => $"Unknown error {errno}",
    };

    /// <summary>AOSP SyncConnection::Error: "adb: error: …" on stdout (LinePrinter), not stderr.</summary>
    private static void SyncError(string message)
    {
        Console.Out.Write("adb: error: " + message + "\n");
        Console.Out.Flush();
    }

    private async Task<SyncClient> OpenSyncAsync()
    {
        HashSet<string> features;
        try { features = await client.DeviceFeaturesAsync(); }
        catch (AdbException e) { throw new AdbException("adb: error: failed to get feature set: " + e.Message); }
        var (s, _) = await client.OpenServiceAsync("sync:");
        return new SyncClient(s, features.Contains(AdbFeatures.StatV2), features.Contains(AdbFeatures.LsV2));
    }

    /// <summary>Transfer statistics and the progress/summary lines AOSP prints (TransferTracker / ReportTransferRate).</summary>
    private sealed class Transfer(string direction)
    {
        private readonly Stopwatch _sw = Stopwatch.StartNew();
        private readonly bool _tty = !Console.IsOutputRedirected;
        private long _lastDraw;
        public long BytesExpected;
        public long BytesDone;
        public int Files;
        public int Skipped;

        public void Progress(string file, long fileDone, long fileTotal, long baseBytes)
        {
            if (!_tty) return;
            long now = _sw.ElapsedMilliseconds;
            if (now - _lastDraw < 100 && fileDone < fileTotal) return;
            _lastDraw = now;
            long total = baseBytes + fileDone;
            string overall = BytesExpected > 0 && total <= BytesExpected ? $"{total * 100 / BytesExpected}%" : "?";
            string line = fileTotal > 0 && fileDone <= fileTotal
                ? $"[{overall,4}] {file}: {fileDone * 100 / fileTotal}%"
                : $"[{overall,4}] {file}: {fileDone}/?";
            double secs = Math.Max(_sw.Elapsed.TotalSeconds, 1e-6);
            line += $" {total / secs / (1024 * 1024):0.0} MB/s";
            int width = 80;
            try { width = Math.Max(20, Console.WindowWidth); } catch { }
            if (line.Length > width - 1) line = line[..(width - 1)];
            Console.Out.Write("\r" + line + "\x1b[K");
            Console.Out.Flush();
        }

        public void Summary(string name)
        {
            double secs = _sw.Elapsed.TotalSeconds;
            string rate = secs > 0 && BytesDone > 0 ? $" {BytesDone / secs / (1024 * 1024):0.0} MB/s ({BytesDone} bytes in {secs:0.000}s)" : "";
            string text = (name.Length > 0 ? name + ": " : "") + $"{Files} file{(Files == 1 ? "" : "s")} {direction}, {Skipped} skipped." + rate;
            Console.Out.Write((_tty ? "\r\x1b[K" : "") + text + "\n");
            Console.Out.Flush();
        }
    }

    private static uint UnixMode(string path)
    {
        if (OperatingSystem.IsWindows()) return 0x81a4;
        var m = (uint)File.GetUnixFileMode(path);
        return 0x8000 | m;
    }

    private static string Basename(string p)
    {
        p = p.TrimEnd('/');
        int slash = p.LastIndexOf('/');
        return slash >= 0 ? p[(slash + 1)..] : p;
    }

    /// <summary><c>adb push [--sync] LOCAL... REMOTE</c>.</summary>
    private async Task<int> PushAsync(string[] args)
    {
        bool sync = false;
        var paths = new List<string>();
        foreach (string a in args)
        {
            if (a == "--sync") sync = true;
            else if (a is "-p" or "-Z" or "-n") { }
            else paths.Add(a);
        }
        if (paths.Count < 2) throw new AdbException("adb: error: push requires an argument");
        string dst = paths[^1];
        var srcs = paths[..^1];
        foreach (string src in srcs)
        {
            if (!File.Exists(src) && !Directory.Exists(src))
            {
                SyncError($"cannot stat '{src}': No such file or directory");
                return 1;
            }
        }
        using var sc = await OpenSyncAsync();
        var dstStat = await sc.StatAsync(dst);
        if (dstStat.Error != 0 && dstStat.Error != 2)
        {
            SyncError($"stat failed when trying to push to {dst}: {StrError(dstStat.Error)}");
            return 1;
        }
        bool dstIsDir = dstStat.Exists && dstStat.IsDirectory;
        if (!dstIsDir && srcs.Count > 1)
        {
            SyncError($"target '{dst}' is not a directory");
            return 1;
        }
        var tr = new Transfer("pushed");
        // Plan every file first (for the overall percentage).
        var plan = new List<(string Local, string Remote, long Size)>();
        foreach (string src in srcs)
        {
            if (Directory.Exists(src))
            {
                string root = dstIsDir ? dst.TrimEnd('/') + "/" + Basename(src) : dst.TrimEnd('/');
                foreach (string f in Directory.EnumerateFiles(src, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Order(StringComparer.Ordinal))
                {
                    string rel = Path.GetRelativePath(src, f).Replace('\\', '/');
                    plan.Add((f, root + "/" + rel, new FileInfo(f).Length));
                }
            }
            else
            {
                string remote = dstIsDir ? dst.TrimEnd('/') + "/" + Basename(src) : dst;
                plan.Add((src, remote, new FileInfo(src).Length));
            }
        }
        tr.BytesExpected = plan.Sum(p => p.Size);
        int rc = 0;
        foreach (var (local, remote, size) in plan)
        {
            var fi = new FileInfo(local);
            uint mtime = (uint)new DateTimeOffset(fi.LastWriteTimeUtc).ToUnixTimeSeconds();
            if (sync)
            {
                var rs = await sc.StatAsync(remote);
                if (rs.Exists && (ulong)size == rs.Size && rs.Mtime == mtime)
                {
                    tr.Skipped++;
                    continue;
                }
            }
            long baseBytes = tr.BytesDone;
            string? fail = await sc.SendAsync(local, remote, UnixMode(local), mtime, done => tr.Progress(remote, done, size, baseBytes));
            tr.BytesDone += size;
            if (fail != null)
            {
                SyncError($"failed to copy '{local}' to '{remote}': remote {fail}");
                rc = 1;
                break;
            }
            tr.Files++;
        }
        await sc.QuitAsync();
        tr.Summary(srcs.Count == 1 ? srcs[0] : "");
        return rc;
    }

    /// <summary><c>adb pull [-a] REMOTE... LOCAL</c>.</summary>
    private async Task<int> PullAsync(string[] args)
    {
        bool preserve = false;
        var paths = new List<string>();
        foreach (string a in args)
        {
            if (a == "-a") preserve = true;
            else if (a is "-Z") { }
            else paths.Add(a);
        }
        if (paths.Count == 0) throw new AdbException("adb: error: pull requires an argument");
        string dst = paths.Count == 1 ? "." : paths[^1];
        var srcs = paths.Count == 1 ? paths : paths[..^1];
        bool dstIsDir = Directory.Exists(dst);
        if (!dstIsDir && srcs.Count > 1)
        {
            if (File.Exists(dst)) SyncError($"target '{dst}' is not a directory");
            else SyncError($"failed to access '{dst}': No such file or directory");
            return 1;
        }
        using var sc = await OpenSyncAsync();
        var tr = new Transfer("pulled");
        var plan = new List<(string Remote, string Local, RemoteStat St)>();
        var dirs = new List<string>();
        foreach (string src in srcs)
        {
            var st = await sc.StatAsync(src);
            if (!st.Exists)
            {
                SyncError($"failed to stat remote object '{src}': {StrError(st.Error == 0 ? 2 : st.Error)}");
                return 1;
            }
            if (st.IsDirectory)
            {
                string root = dstIsDir ? Path.Combine(dst, Basename(src)) : dst;
                dirs.Add(root);
                await WalkAsync(sc, src.TrimEnd('/'), root, plan, dirs);
            }
            else
            {
                string local = dstIsDir ? Path.Combine(dst, Basename(src)) : dst;
                plan.Add((src, local, st));
            }
        }
        foreach (string d in dirs) Directory.CreateDirectory(d);
        tr.BytesExpected = plan.Sum(p => (long)p.St.Size);
        int rc = 0;
        foreach (var (remote, local, st) in plan)
        {
            // Regular files are written to a temp name and renamed at the end; devices and FIFOs (e.g. /dev/null)
            // are written in place.
            bool inPlace = UnixFile.IsSpecial(local);
            string tmp = inPlace ? local : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(local)) ?? ".", $".{Path.GetFileName(local)}.adb-{Environment.ProcessId}.tmp");
            string? fail;
            long baseBytes = tr.BytesDone;
            try
            {
                await using (var fs = new FileStream(tmp, inPlace ? FileMode.Open : FileMode.Create, FileAccess.Write, FileShare.ReadWrite, 1))
                {
                    fail = await sc.RecvAsync(remote, fs, done => tr.Progress(remote, done, (long)st.Size, baseBytes));
                }
                if (fail == null && !inPlace)
                {
                    if (preserve)
                    {
                        File.SetLastWriteTimeUtc(tmp, DateTimeOffset.FromUnixTimeSeconds(st.Mtime).UtcDateTime);
                        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tmp, (UnixFileMode)(st.Mode & 0xfff));
                    }
                    File.Move(tmp, local, overwrite: true);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (!inPlace) try { File.Delete(tmp); } catch { }
                string why = e is DirectoryNotFoundException ? "No such file or directory"
                    : e is UnauthorizedAccessException ? "Permission denied" : e.Message;
                SyncError($"cannot create file/directory '{local}': {why}");
                return 1;
            }
            if (fail != null)
            {
                if (!inPlace) try { File.Delete(tmp); } catch { }
                SyncError($"failed to copy '{remote}' to '{local}': remote {fail}");
                rc = 1;
                break;
            }
            tr.BytesDone += (long)st.Size;
            tr.Files++;
        }
        await sc.QuitAsync();
        if (rc == 0) tr.Summary(srcs.Count == 1 ? srcs[0] : "");
        return rc;
    }

    private static async Task WalkAsync(SyncClient sc, string remoteDir, string localDir, List<(string, string, RemoteStat)> plan, List<string> dirs)
    {
        foreach (var e in (await sc.ListAsync(remoteDir)).OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            if (e.Name is "." or "..") continue;
            if (e.Error != 0) continue;
            string r = remoteDir + "/" + e.Name;
            string l = Path.Combine(localDir, e.Name);
            var st = new RemoteStat(0, e.Mode, e.Size, e.Mtime);
            if (st.IsDirectory)
            {
                dirs.Add(l);
                await WalkAsync(sc, r, l, plan, dirs);
            }
            else if (st.IsRegular) plan.Add((r, l, st));
            else if (st.IsLink)
            {
                var target = await sc.StatAsync(r);
                if (target.Exists && target.IsRegular) plan.Add((r, l, target));
            }
        }
    }

    /// <summary><c>adb ls REMOTE</c>: "%08x %08x %08x %s" (mode, size, mtime, name) per entry.</summary>
    private async Task<int> LsAsync(string[] args)
    {
        if (args.Length != 1) throw new AdbException("adb: usage: adb ls REMOTE");
        using var sc = await OpenSyncAsync();
        foreach (var e in await sc.ListAsync(args[0]))
            Console.Out.Write($"{e.Mode:x8} {(uint)e.Size:x8} {(uint)e.Mtime:x8} {e.Name}\n");
        await sc.QuitAsync();
        return 0;
    }
}
