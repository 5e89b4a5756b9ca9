using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Kv.Server;
using Kv.Storage;
using Microsoft.Extensions.Logging;

namespace Kv.Persistence;

/// <summary>
/// A dump file could not be loaded at start (or by DEBUG RELOAD). The message names the file and the byte offset;
/// the file is left untouched.
/// </summary>
public sealed class RdbLoadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The RDB persistence component (rdb.c + the persistence parts of server.c): loads dir/dbfilename at start, SAVE,
/// BGSAVE (fork-less <see cref="RdbSnapshot"/>), <c>save &lt;seconds&gt; &lt;changes&gt;</c> points from the cron,
/// the FLUSHALL save, the final save at SHUTDOWN, DEBUG RELOAD, and the INFO persistence section. Every file is
/// written to a temp file, fsynced and renamed over the dump, then the directory is fsynced, so a crash or a full
/// disk never leaves a partial dump. Members are called under <see cref="KvServer.ExecLock"/> unless noted.
/// </summary>
public sealed class Persistence : IServerExtension, IAsyncDisposable
{
    private const int BgsaveRetryDelaySeconds = 5; // CONFIG_BGSAVE_RETRY_DELAY
    private readonly bool _loadOnAttach;
    private KvServer _server = null!;
    private ILogger _log = null!;
    private RdbSnapshot? _bgsave;
    private string? _bgsaveTemp;
    private long _dirtyBeforeBgsave;
    private long _lastBgsaveTry;
    private long _bgsaveStartUnix = -1;
    private static int _tempSeq;

    /// <summary>Creates the component; <paramref name="loadOnAttach"/> loads the dump file in <see cref="Attach"/>.</summary>
    public Persistence(bool loadOnAttach = true) => _loadOnAttach = loadOnAttach;

    /// <summary>The component attached to <paramref name="server"/>, attaching one (without loading) when missing.</summary>
    public static Persistence For(KvServer server)
    {
        foreach (var e in server.Extensions) if (e is Persistence p) return p;
        var created = new Persistence(loadOnAttach: false);
        server.AddExtension(created);
        return created;
    }

    /// <summary>Unix seconds of the last successful save (LASTSAVE, rdb_last_save_time). Start time initially.</summary>
    public long LastSaveUnix { get; private set; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>False after a failed background save (rdb_last_bgsave_status:err).</summary>
    public bool LastBgsaveOk { get; private set; } = true;

    /// <summary>Duration of the last background save in seconds, or -1 (rdb_last_bgsave_time_sec).</summary>
    public long LastBgsaveTimeSec { get; private set; } = -1;

    /// <summary>Background saves started, including replication snapshots (rdb_saves).</summary>
    public long RdbSaves { get; private set; }

    /// <summary>Keys loaded by the last load (rdb_last_load_keys_loaded).</summary>
    public long LastLoadKeysLoaded { get; private set; }

    /// <summary>Expired keys skipped by the last load (rdb_last_load_keys_expired).</summary>
    public long LastLoadKeysExpired { get; private set; }

    /// <summary>Aux fields of the last loaded dump (redis-ver, ctime, repl-id, repl-offset, ...).</summary>
    public IReadOnlyList<KeyValuePair<string, byte[]>> LoadedAux { get; private set; } = [];

    /// <summary>repl-id/repl-offset/repl-stream-db of the last loaded dump, when it had them (for PSYNC after restart).</summary>
    public RdbReplInfo? LoadedReplInfo { get; private set; }

    /// <summary>
    /// Supplies the replication aux fields for dumps written to disk (rdbPopulateSaveInfo), or null when there is
    /// nothing to record. Set by the replication component.
    /// </summary>
    public Func<RdbReplInfo?>? ReplInfoProvider { get; set; }

    /// <summary>True while a BGSAVE to disk runs (rdb_bgsave_in_progress).</summary>
    public bool BgsaveInProgress => _bgsave is not null;

    /// <summary>The running BGSAVE snapshot, or null.</summary>
    public RdbSnapshot? CurrentBgsave => _bgsave;

    /// <summary>Set by BGSAVE SCHEDULE while another save runs (rdb_bgsave_scheduled).</summary>
    public bool BgsaveScheduled { get; set; }

    /// <summary>Path of the dump file: dbfilename inside dir (relative paths resolve against the working directory, which Program sets to dir).</summary>
    public string DumpPath
    {
        get
        {
            var dir = _server.Config.Get("dir");
            var file = _server.Config.Get("dbfilename");
            return Path.IsPathRooted(dir) ? Path.Combine(dir, file) : Path.GetFullPath(file);
        }
    }

    private RdbWriterOptions WriterOptions => new()
    {
        Compression = _server.Config.GetBool("rdbcompression"),
        Checksum = _server.Config.GetBool("rdbchecksum"),
    };

    /// <summary>Save points from the "save" directive as (seconds, changes) pairs.</summary>
    public List<(long Seconds, long Changes)> SavePoints()
    {
        var parts = _server.Config.Get("save").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var res = new List<(long, long)>();
        for (int i = 0; i + 1 < parts.Length; i += 2)
            if (long.TryParse(parts[i], out var s) && long.TryParse(parts[i + 1], out var c)) res.Add((s, c));
        return res;
    }

    /// <inheritdoc />
    /// <exception cref="RdbLoadException">The dump file exists but is corrupt or truncated.</exception>
    public void Attach(KvServer server)
    {
        _server = server;
        _log = server.LoggerFactory.CreateLogger("kv.persistence");
        server.SetInfoSection("persistence", InfoPersistence);
        server.OnFlushAll = OnFlushAll;
        server.PrepareShutdown = save => PrepareShutdown(save, force: false);
        server.DiskErrorCheck = DiskError;
        if (_loadOnAttach)
        {
            lock (server.ExecLock) LoadAtStartup();
        }
    }

    private void LoadAtStartup()
    {
        var path = DumpPath;
        if (!File.Exists(path)) return;
        var sw = Stopwatch.StartNew();
        bool replica = _server.IsReplica || _server.Config.Get("replicaof").Length > 0;
        Load(path, dropExpired: !replica);
        _log.LogInformation("Done loading RDB, keys loaded: {Loaded}, keys expired: {Expired}.", LastLoadKeysLoaded, LastLoadKeysExpired);
        _log.LogInformation("DB loaded from disk: {Seconds} seconds", (sw.Elapsed.TotalSeconds).ToString("F3", CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Loads an RDB file into the databases, replacing their contents only after the whole file was read and verified
    /// (a failed load leaves the dataset untouched). Expired keys are skipped when <paramref name="dropExpired"/>
    /// (a master loading from disk), as rdbLoad does.
    /// </summary>
    /// <exception cref="RdbLoadException">Corrupt, truncated or unsupported content (message: file and byte offset) or I/O error.</exception>
    public void Load(string path, bool dropExpired)
    {
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            LoadFrom(fs, fs.Length, dropExpired);
        }
        catch (RdbFormatException e)
        {
            throw new RdbLoadException($"Bad RDB file '{path}': {e.Reason} at byte offset {e.Offset}", e);
        }
        catch (IOException e)
        {
            throw new RdbLoadException($"Error reading RDB file '{path}': {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new RdbLoadException($"Error reading RDB file '{path}': {e.Message}", e);
        }
    }

    /// <summary>
    /// Reads an RDB stream into new dictionaries and swaps them into the databases when complete. Returns the reader
    /// (aux fields, functions, leftover bytes). Used by <see cref="Load"/> and by replication's full sync.
    /// </summary>
    /// <exception cref="RdbFormatException">Corrupt, truncated or unsupported content.</exception>
    public RdbReader LoadFrom(Stream input, long? length, bool dropExpired) => LoadFrom(input, length, dropExpired, merge: false, allowDuplicates: false);

    /// <summary>
    /// DEBUG RELOAD's load: replaces the dataset with the dump (<paramref name="flush"/>), or adds the dump's keys to
    /// the current dataset (NOFLUSH; with <paramref name="merge"/> a key present in both takes the dump's value).
    /// </summary>
    /// <exception cref="RdbLoadException">The dump is missing, corrupt or has a duplicate key without MERGE.</exception>
    public void Reload(bool flush, bool merge)
    {
        var path = DumpPath;
        if (!File.Exists(path)) throw new RdbLoadException($"RDB file '{path}' not found");
        if (flush)
        {
            Load(path, dropExpired: !_server.IsReplica);
            return;
        }
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            LoadFrom(fs, fs.Length, !_server.IsReplica, merge: true, allowDuplicates: merge);
        }
        catch (RdbFormatException e)
        {
            throw new RdbLoadException($"Bad RDB file '{path}': {e.Reason} at byte offset {e.Offset}", e);
        }
        catch (IOException e)
        {
            throw new RdbLoadException($"Error reading RDB file '{path}': {e.Message}", e);
        }
    }

    private RdbReader LoadFrom(Stream input, long? length, bool dropExpired, bool merge, bool allowDuplicates)
    {
        var dbs = _server.Databases;
        var reader = new RdbReader(input, length) { Databases = dbs.Length, VerifyChecksum = true };
        long now = KvServer.UnixMs();
        long loaded = 0, expired = 0;
        if (merge)
        {
            reader.ReadAll(e =>
            {
                if (dropExpired && e.ExpireMs != -1 && e.ExpireMs < now)
                {
                    expired++;
                    return;
                }
                var db = dbs[e.Db];
                if (db.Get(e.Key) is not null && !allowDuplicates) throw new RdbFormatException($"duplicate key '{RdbLoad.Printable(e.Key)}' in database {e.Db}", reader.Position);
                db.Set(e.Key, e.Value);
                if (e.ExpireMs != -1) db.SetExpire(e.Key, e.ExpireMs);
                loaded++;
            });
        }
        else
        {
            var r = RdbLoad.ReadAll(reader, dbs.Length, dropExpired, now);
            loaded = r.Loaded;
            expired = r.Expired;
            for (int i = 0; i < dbs.Length; i++)
            {
                if (r.Mains[i] is null && dbs[i].Count == 0) continue;
                dbs[i].Replace(r.Mains[i] ?? new KvDict<object>(), r.Expires[i] ?? new KvDict<long>());
            }
        }
        LastLoadKeysLoaded = loaded;
        LastLoadKeysExpired = expired;
        LoadedAux = reader.Aux;
        LoadedReplInfo = reader.ReplInfo;
        if (reader.Functions.Count > 0)
            _log.LogWarning("The RDB holds {Count} function libraries: functions are not supported, they were skipped", reader.Functions.Count);
        if (reader.GetAux("redis-ver") is { } ver) _log.LogInformation("Loading RDB produced by version {Version}", ver);
        if (reader.GetAux("ctime") is { } ct && long.TryParse(ct, out var ctime))
            _log.LogInformation("RDB age {Age} seconds", DateTimeOffset.UtcNow.ToUnixTimeSeconds() - ctime);
        return reader;
    }

    /// <summary>
    /// Starts a point-in-time snapshot of the whole dataset written as an RDB stream to <paramref name="output"/>
    /// (file, socket, memory) by a background thread. Must be called under <see cref="KvServer.ExecLock"/>: the
    /// snapshot is the dataset at the moment of the call, so a replication offset read under the same lock is exact.
    /// The caller owns <paramref name="output"/> (and its framing: "$len" or "$EOF:mark") and disposes it after
    /// <see cref="RdbSnapshot.Completion"/>. Several snapshots may run at once.
    /// </summary>
    /// <param name="output">Destination stream.</param>
    /// <param name="repl">repl-stream-db / repl-id / repl-offset aux fields to embed, or null.</param>
    public RdbSnapshot StartSnapshot(Stream output, RdbReplInfo? repl)
    {
        RdbSaves++;
        return new RdbSnapshot(_server, output, repl, WriterOptions, commit: null);
    }

    /// <summary>
    /// SAVE: writes the dataset synchronously (the caller holds the execution lock, so it is consistent) to a temp file,
    /// fsyncs and renames it over the dump. Returns false and logs on failure.
    /// </summary>
    public bool SaveSync()
    {
        RdbSaves++; // rdb_saves counts foreground saves too (SAVE, DEBUG RELOAD, SHUTDOWN), as redis's rdbSave
        var path = DumpPath;
        var temp = TempPath(path);
        try
        {
            using (var fs = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                var w = new RdbWriter(fs, WriterOptions);
                w.WriteMagic();
                w.WriteDefaultAux(DateTimeOffset.UtcNow.ToUnixTimeSeconds(), KvServer.UsedMemory(), ReplInfoProvider?.Invoke());
                WriteDataset(w, _server.Databases);
                w.WriteEnd();
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
            FsyncDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.LogWarning("Write error saving DB on disk: {Error}", e.Message);
            TryDelete(temp);
            return false;
        }
        _log.LogInformation("DB saved on disk");
        _server.Dirty = 0;
        LastSaveUnix = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        LastBgsaveOk = true;
        return true;
    }

    /// <summary>Serializes every non-empty database (SELECTDB, RESIZEDB, keys) in the caller's consistent view.</summary>
    public static void WriteDataset(RdbWriter w, IReadOnlyList<RedisDb> dbs)
    {
        foreach (var db in dbs)
        {
            if (db.Count == 0) continue;
            w.WriteSelectDb(db.Id);
            w.WriteResizeDb(db.Count, db.Expires.Count);
            foreach (var kv in db.Main.Entries())
            {
                long exp = db.Expires.TryGetValue(kv.Key, out var e) ? e : -1;
                w.WriteKeyValue(kv.Key, kv.Value, exp);
                if (w.Pending >= 1 << 20) w.Flush();
            }
        }
    }

    /// <summary>
    /// BGSAVE: starts a background save to the dump file. Returns null when started, else the error text
    /// ("Background save already in progress").
    /// </summary>
    public string? StartBackgroundSave()
    {
        if (_bgsave is not null) return "Background save already in progress";
        var path = DumpPath;
        var temp = TempPath(path);
        FileStream fs;
        _lastBgsaveTry = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        try
        {
            fs = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Where redis's forked child would fail: the save "started" and ends at once with an error status.
            RdbSaves++;
            _log.LogWarning("Failed opening the temp RDB file {Temp} (in server root dir {Dir}) for saving: {Error}", temp, SafeCwd(), e.Message);
            _log.LogWarning("Background saving error");
            LastBgsaveOk = false;
            return null;
        }
        _dirtyBeforeBgsave = _server.Dirty;
        _bgsaveStartUnix = _lastBgsaveTry;
        _bgsaveTemp = temp;
        RdbSaves++;
        var snap = new RdbSnapshot(_server, fs, ReplInfoProvider?.Invoke(), WriterOptions, s =>
        {
            // Under the lock, after the last byte was written and fsynced: rename (only if not cancelled meanwhile).
            try
            {
                fs.Dispose();
                File.Move(temp, path, overwrite: true);
                FsyncDirectory(path);
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.LogWarning("Write error saving DB on disk: {Error}", e.Message);
                return false;
            }
        });
        _bgsave = snap;
        _log.LogInformation("Background saving started");
        snap.Completion.ContinueWith(t => BackgroundSaveDone(snap, fs, temp, t), TaskScheduler.Default);
        return null;
    }

    private void BackgroundSaveDone(RdbSnapshot snap, FileStream fs, string temp, Task<long> t)
    {
        try { fs.Dispose(); } catch (IOException) { }
        lock (_server.ExecLock)
        {
            if (!ReferenceEquals(_bgsave, snap)) return;
            _bgsave = null;
            _bgsaveTemp = null;
            long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            LastBgsaveTimeSec = now - _bgsaveStartUnix;
            _bgsaveStartUnix = -1;
            if (t.IsCompletedSuccessfully)
            {
                _log.LogInformation("Background saving terminated with success: {Stats}", snap.Stats);
                _server.Dirty = Math.Max(0, _server.Dirty - _dirtyBeforeBgsave);
                LastSaveUnix = now;
                LastBgsaveOk = true;
            }
            else if (t.IsCanceled)
            {
                _log.LogWarning("Background saving terminated by cancellation");
                TryDelete(temp);
            }
            else
            {
                _log.LogWarning("Background saving error: {Error}", t.Exception?.GetBaseException().Message);
                LastBgsaveOk = false;
                TryDelete(temp);
            }
        }
    }

    /// <summary>Stops a running BGSAVE without marking an error (killRDBChild); its temp file is removed.</summary>
    public void CancelBackgroundSave()
    {
        if (_bgsave is not { } snap) return;
        snap.Cancel();
        _bgsave = null;
        if (_bgsaveTemp is { } temp) _ = snap.Completion.ContinueWith(_ => TryDelete(temp), TaskScheduler.Default);
        _bgsaveTemp = null;
        _bgsaveStartUnix = -1;
    }

    private static string SafeCwd()
    {
        try { return Directory.GetCurrentDirectory(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FileNotFoundException) { return "unknown"; }
    }

    private static string TempPath(string dumpPath)
    {
        var dir = Path.GetDirectoryName(dumpPath) ?? ".";
        return Path.Combine(dir, $"temp-{Environment.ProcessId}-{Interlocked.Increment(ref _tempSeq)}.rdb");
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int SysOpen([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int SysFsync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int SysClose(int fd);

    /// <summary>fsyncFileDir: makes the rename durable (Linux only; a no-op elsewhere).</summary>
    private static void FsyncDirectory(string filePath)
    {
        if (!OperatingSystem.IsLinux()) return;
        var dir = Path.GetDirectoryName(Path.GetFullPath(filePath)) ?? "/";
        int fd = SysOpen(dir, 0);
        if (fd < 0) return;
        try { SysFsync(fd); } finally { SysClose(fd); }
    }

    /// <inheritdoc />
    public void Cron(long nowMs)
    {
        if (_bgsave is not null) return;
        long now = nowMs / 1000;
        bool retryOk = now - _lastBgsaveTry > BgsaveRetryDelaySeconds || LastBgsaveOk;
        foreach (var (secs, changes) in SavePoints())
        {
            if (_server.Dirty >= changes && now - LastSaveUnix > secs && retryOk)
            {
                _log.LogInformation("{Changes} changes in {Seconds} seconds. Saving...", changes, secs);
                StartBackgroundSave();
                return;
            }
        }
        if (BgsaveScheduled && retryOk)
        {
            BgsaveScheduled = false;
            StartBackgroundSave();
        }
    }

    /// <summary>shared.bgsaveerr of redis 7.0.15.</summary>
    public const string MisconfError = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

    /// <summary>writeCommandsDeniedByDiskError: the MISCONF text while writes must be refused, else null.</summary>
    public string? DiskError() =>
        LastBgsaveOk ? null : _server.Config.GetBool("stop-writes-on-bgsave-error") && SavePoints().Count > 0 ? MisconfError : null;

    private void OnFlushAll()
    {
        CancelBackgroundSave();
        if (SavePoints().Count == 0) return;
        long dirty = _server.Dirty;
        SaveSync();
        _server.Dirty = dirty;
    }

    /// <summary>
    /// The shutdown sequence's persistence part (finishShutdown): stops a BGSAVE, then saves when
    /// <paramref name="save"/> is true, or when it is null and save points are configured. Returns null to go on,
    /// or the error text when the save failed and <paramref name="force"/> is false.
    /// </summary>
    public string? PrepareShutdown(bool? save, bool force)
    {
        if (_bgsave is not null)
        {
            _log.LogWarning("There is a child saving an .rdb. Killing it!");
            CancelBackgroundSave();
        }
        bool doSave = save ?? SavePoints().Count > 0;
        if (!doSave) return null;
        _log.LogInformation("Saving the final RDB snapshot before exiting.");
        if (SaveSync()) return null;
        if (force)
        {
            _log.LogWarning("Error trying to save the DB, but FORCE was given: exiting anyway.");
            return null;
        }
        _log.LogWarning("Error trying to save the DB, can't exit.");
        return "ERR Errors trying to SHUTDOWN. Check logs.";
    }

    private void InfoPersistence(StringBuilder sb)
    {
        var snap = _bgsave;
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        sb.Append("loading:").Append(_server.Loading ? 1 : 0).Append("\r\n")
          .Append("async_loading:0\r\n")
          .Append("current_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\n")
          .Append("current_save_keys_processed:").Append(snap?.KeysProcessed ?? 0).Append("\r\n")
          .Append("current_save_keys_total:").Append(snap?.KeysTotal ?? 0).Append("\r\n")
          .Append("rdb_changes_since_last_save:").Append(_server.Dirty).Append("\r\n")
          .Append("rdb_bgsave_in_progress:").Append(snap is null ? 0 : 1).Append("\r\n")
          .Append("rdb_last_save_time:").Append(LastSaveUnix).Append("\r\n")
          .Append("rdb_last_bgsave_status:").Append(LastBgsaveOk ? "ok" : "err").Append("\r\n")
          .Append("rdb_last_bgsave_time_sec:").Append(LastBgsaveTimeSec).Append("\r\n")
          .Append("rdb_current_bgsave_time_sec:").Append(snap is null || _bgsaveStartUnix < 0 ? -1 : now - _bgsaveStartUnix).Append("\r\n")
          .Append("rdb_saves:").Append(RdbSaves).Append("\r\n")
          .Append("rdb_last_cow_size:0\r\n")
          .Append("rdb_last_load_keys_expired:").Append(LastLoadKeysExpired).Append("\r\n")
          .Append("rdb_last_load_keys_loaded:").Append(LastLoadKeysLoaded).Append("\r\n")
          .Append("aof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n")
          .Append("aof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\n")
          .Append("aof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\naof_rewrites_consecutive_failures:0\r\n")
          .Append("aof_last_write_status:ok\r\naof_last_cow_size:0\r\n")
          .Append("module_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n");
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            lock (_server.ExecLock) CancelBackgroundSave();
        }
        return ValueTask.CompletedTask;
    }
}
