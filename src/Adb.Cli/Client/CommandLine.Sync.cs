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
    private static void SyncError(string message) => LinePrinter.Error("adb: error: " + message);

    private async Task<SyncClient> OpenSyncAsync()
    {
        HashSet<string> features;
        try { features = await client.DeviceFeaturesAsync(); }
        catch (AdbException e) { throw new AdbException("adb: error: failed to get feature set: " + e.Message); }
        var (s, _) = await client.OpenServiceAsync("sync:");
        return new SyncClient(s, features.Contains(AdbFeatures.StatV2), features.Contains(AdbFeatures.LsV2));
    }

    /// <summary>
    /// Transfer statistics and the progress/summary lines AOSP's client prints (TransferLedger: ReportProgress,
    /// ReportTransferRate), one per source argument plus an overall one when there are several sources.
    /// </summary>
    /// <param name="direction">"pushed" or "pulled".</param>
    /// <param name="multipleFiles">True for a directory source: progress lines then carry the file's percentage
    /// after the overall one ("[ 40%] /sdcard/d/f: 80%"); a single file shows "[ 40%] /sdcard/f".</param>
    private sealed class Transfer(string direction, bool multipleFiles)
    {
        private readonly Stopwatch _sw = Stopwatch.StartNew();
        private int _lastOverall = -2, _lastFile = -2;
        private string? _lastName;
        /// <summary>Bytes of all files of this source (for the overall percentage).</summary>
        public long BytesExpected;
        /// <summary>Bytes of the files finished so far.</summary>
        public long BytesDone;
        /// <summary>Files transferred.</summary>
        public int Files;
        /// <summary>Files skipped (push --sync).</summary>
        public int Skipped;

        /// <summary>Draws "[NNN%] FILE", "[NNN%] FILE: NN%" or "[NNN%] FILE: BYTES/?" on a smart terminal.</summary>
        public void Progress(string file, long fileDone, long fileTotal)
        {
            if (!LinePrinter.Smart) return;
            long total = BytesDone + fileDone;
            int overall = -1;
            if (BytesExpected != 0 && total <= BytesExpected)
            {
                long pct = total * 100 / BytesExpected;
                if (pct <= 100) overall = (int)pct;
            }
            bool unknown = fileDone > fileTotal || fileTotal == 0;
            int filePct = unknown ? -1 : multipleFiles ? (int)(fileDone * 100 / fileTotal) : 0;
            // AOSP repaints after every 64 KiB; only repaints that change the text are skipped here.
            if (!unknown && overall == _lastOverall && filePct == _lastFile && ReferenceEquals(file, _lastName)) return;
            (_lastOverall, _lastFile, _lastName) = (overall, filePct, file);
            string o = overall < 0 ? "?" : overall + "%";
            LinePrinter.Info(unknown ? $"[{o,4}] {file}: {fileDone}/?"
                : multipleFiles ? $"[{o,4}] {file}: {filePct}%"
                : $"[{o,4}] {file}");
        }

        /// <summary>Adds a finished source's counts to this (overall) ledger.</summary>
        public void Add(Transfer t)
        {
            Files += t.Files;
            Skipped += t.Skipped;
            BytesDone += t.BytesDone;
        }

        /// <summary>"NAME: N file(s) DIR, M skipped. R MB/s (B bytes in S.SSSs)" (no "NAME: " when empty; no rate when no bytes).</summary>
        public void Summary(string name)
        {
            double secs = _sw.Elapsed.TotalSeconds;
            string rate = BytesDone > 0 ? string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $" {BytesDone / Math.Max(secs, 1e-9) / (1024 * 1024):0.0} MB/s ({BytesDone} bytes in {secs:0.000}s)") : "";
            LinePrinter.Info((name.Length > 0 ? name + ": " : "") + $"{Files} file{(Files == 1 ? "" : "s")} {direction}, {Skipped} skipped." + rate);
            LinePrinter.KeepInfoLine();
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
        // One ledger per source argument (its summary line when done), plus the overall line for several sources.
        var all = new Transfer("pushed", false);
        int rc = 0;
        foreach (string src in srcs)
        {
            bool isDir = Directory.Exists(src);
            var plan = new List<(string Local, string Remote, long Size)>();
            if (isDir)
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
            var tr = new Transfer("pushed", isDir) { BytesExpected = plan.Sum(p => p.Size) };
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
                string? fail = await sc.SendAsync(local, remote, UnixMode(local), mtime, done => tr.Progress(remote, done, size));
                tr.BytesDone += size;
                if (fail != null)
                {
                    SyncError($"failed to copy '{local}' to '{remote}': remote {fail}");
                    rc = 1;
                    break;
                }
                tr.Files++;
            }
            all.Add(tr);
            if (rc != 0) break;
            // A directory is named with a trailing slash, as AOSP's client prints it.
            tr.Summary(isDir && !src.EndsWith('/') ? src + "/" : src);
        }
        await sc.QuitAsync();
        if (rc == 0 && srcs.Count > 1) all.Summary("");
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
        // Source by source, as AOSP's client: stat, list a directory, pull its files, print its summary line.
        var all = new Transfer("pulled", false);
        int rc = 0;
        foreach (string src in srcs)
        {
            var st = await sc.StatAsync(src);
            if (!st.Exists)
            {
                SyncError($"failed to stat remote object '{src}': {StrError(st.Error == 0 ? 2 : st.Error)}");
                return 1;
            }
            var plan = new List<(string Remote, string Local, RemoteStat St)>();
            var dirs = new List<string>();
            if (st.IsDirectory)
            {
                LinePrinter.Info("pull: building file list...");
                string root = dstIsDir ? Path.Combine(dst, Basename(src)) : dst;
                dirs.Add(root);
                await WalkAsync(sc, src.TrimEnd('/'), root, plan, dirs);
            }
            else
            {
                string local = dstIsDir ? Path.Combine(dst, Basename(src)) : dst;
                plan.Add((src, local, st));
            }
            foreach (string d in dirs) Directory.CreateDirectory(d);
            var tr = new Transfer("pulled", st.IsDirectory) { BytesExpected = plan.Sum(p => (long)p.St.Size) };
            foreach (var (remote, local, fst) in plan)
            {
                if (!await PullFileAsync(sc, tr, remote, local, fst, preserve)) { rc = 1; break; }
            }
            all.Add(tr);
            if (rc != 0) break;
            tr.Summary(st.IsDirectory && !src.EndsWith('/') ? src + "/" : src);
        }
        await sc.QuitAsync();
        if (rc == 0 && srcs.Count > 1) all.Summary("");
        return rc;
    }

    /// <summary>
    /// Pulls one file: regular files go to a hidden temp name next to <paramref name="local"/>, renamed at the end
    /// (removed on failure); devices and FIFOs (e.g. /dev/null) are written in place. False after an error (printed).
    /// </summary>
    private static async Task<bool> PullFileAsync(SyncClient sc, Transfer tr, string remote, string local, RemoteStat st, bool preserve)
    {
        bool inPlace = UnixFile.IsSpecial(local);
        string tmp = inPlace ? local : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(local)) ?? ".", $".{Path.GetFileName(local)}.adb-{Environment.ProcessId}.tmp");
        string? fail;
        try
        {
            await using (var fs = new FileStream(tmp, inPlace ? FileMode.Open : FileMode.Create, FileAccess.Write, FileShare.ReadWrite, 1))
            {
                fail = await sc.RecvAsync(remote, fs, done => tr.Progress(remote, done, (long)st.Size));
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
            return false;
        }
        if (fail != null)
        {
            if (!inPlace) try { File.Delete(tmp); } catch { }
            SyncError($"failed to copy '{remote}' to '{local}': remote {fail}");
            return false;
        }
        tr.BytesDone += (long)st.Size;
        tr.Files++;
        return true;
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
