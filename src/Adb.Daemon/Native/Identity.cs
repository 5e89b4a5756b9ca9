using System.Runtime.InteropServices;

namespace Adb.Daemon.Native;

/// <summary>
/// A Unix identity (user name, uid, gid, home) that services act as. The daemon process may run as root while
/// serving as an unprivileged user: file operations run under <see cref="Impersonate"/> (per-thread fsuid/fsgid
/// and supplementary groups, which also drops CAP_DAC_OVERRIDE for that thread), child processes are started
/// through <c>setpriv</c>.
/// </summary>
internal sealed record Identity(string Name, uint Uid, uint Gid, string Home, string Shell)
{
    private static readonly uint[] ProcessGroups = OperatingSystem.IsLinux() ? Libc.GetGroups() : [];
    private static readonly uint ProcessUid = OperatingSystem.IsLinux() ? Libc.geteuid() : 0;
    private static readonly uint ProcessGid = OperatingSystem.IsLinux() ? Libc.getegid() : 0;

    /// <summary>Whether this identity equals the process's own effective ids (then no switching is needed).</summary>
    public bool IsProcessIdentity => Uid == ProcessUid && Gid == ProcessGid;

    /// <summary>Whether the daemon process runs as root.</summary>
    public static bool ProcessIsRoot => ProcessUid == 0;

    /// <summary>The identity of the daemon process itself.</summary>
    public static Identity Process => Lookup(ProcessUid.ToString()) ?? new Identity(Environment.UserName, ProcessUid, ProcessGid, "/", "/bin/sh");

    /// <summary>Supplementary groups of this user (from /etc/group), for the per-thread switch.</summary>
    public uint[] Groups { get; init; } = [];

    /// <summary>Looks a user up by name or numeric uid in /etc/passwd (and its groups in /etc/group).</summary>
    public static Identity? Lookup(string nameOrUid)
    {
        try
        {
            foreach (string line in File.ReadLines("/etc/passwd"))
            {
                string[] f = line.Split(':');
                if (f.Length < 7) continue;
                if (f[0] != nameOrUid && f[2] != nameOrUid) continue;
                uint uid = uint.Parse(f[2]), gid = uint.Parse(f[3]);
                var groups = new List<uint> { gid };
                foreach (string g in File.ReadLines("/etc/group"))
                {
                    string[] gf = g.Split(':');
                    if (gf.Length >= 4 && gf[3].Split(',').Contains(f[0]) && uint.TryParse(gf[2], out uint gg) && !groups.Contains(gg)) groups.Add(gg);
                }
                return new Identity(f[0], uid, gid, f[5].Length > 0 ? f[5] : "/", f[6]) { Groups = groups.ToArray() };
            }
        }
        catch (IOException) { }
        return null;
    }

    /// <summary>Runs <paramref name="action"/> synchronously with this identity's filesystem permissions on the current
    /// thread. The action must not await (the thread would change).</summary>
    public T Impersonate<T>(Func<T> action)
    {
        if (IsProcessIdentity || !OperatingSystem.IsLinux() || ProcessUid != 0) return action();
        int rc = Libc.SetThreadGroups(Groups.Length > 0 ? Groups : [Gid]);
        if (rc != 0) throw new IOException("cannot switch supplementary groups: " + Libc.StrError(rc));
        Libc.SetFsIds(Uid, Gid);
        try { return action(); }
        finally
        {
            Libc.SetFsIds(ProcessUid, ProcessGid);
            Libc.SetThreadGroups(ProcessGroups);
        }
    }

    /// <summary>Void form of <see cref="Impersonate{T}"/>.</summary>
    public void Impersonate(Action action) => Impersonate(() => { action(); return 0; });

    /// <summary>Prefix arguments that make a child process run as this identity (empty when no switch is needed).</summary>
    public string[] SetprivPrefix() =>
        IsProcessIdentity || ProcessUid != 0 ? [] : ["/usr/bin/setpriv", $"--reuid={Uid}", $"--regid={Gid}", "--init-groups", "--"];
}
