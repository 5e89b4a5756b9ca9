namespace Kv.Tests.Infrastructure;

/// <summary>
/// Locates the executables the tests run. Nothing is built here: the tests run after <c>dotnet build</c>.
/// <list type="bullet">
/// <item><c>kv-server</c>: env <c>KV_SERVER</c> (path of the apphost or of kv-server.dll), else the copy the
/// ProjectReference puts next to the test assembly, else <c>&lt;artifacts&gt;/bin/Kv.Server/&lt;config&gt;/kv-server</c>
/// derived from the test assembly path (works for Release, Debug and a custom ArtifactsPath), else the repo's
/// <c>artifacts/bin/Kv.Server/{release,debug}</c>.</item>
/// <item><c>redis-server</c>, <c>redis-cli</c>, <c>redis-benchmark</c>: env <c>REDIS_SERVER</c>/<c>REDIS_CLI</c>/
/// <c>REDIS_BENCHMARK</c>, else /usr/bin, else PATH.</item>
/// </list>
/// </summary>
public static class ServerPaths
{
    private static readonly Lazy<string> s_kv = new(FindKvServer);

    /// <summary>Full path of the kv-server apphost, or of kv-server.dll (then run through <c>dotnet</c>).</summary>
    public static string KvServer => s_kv.Value;

    /// <summary>Full path of redis-server 7.0.15.</summary>
    public static string RedisServer => FindTool("REDIS_SERVER", "redis-server");

    /// <summary>Full path of redis-cli.</summary>
    public static string RedisCli => FindTool("REDIS_CLI", "redis-cli");

    /// <summary>Full path of redis-benchmark.</summary>
    public static string RedisBenchmark => FindTool("REDIS_BENCHMARK", "redis-benchmark");

    private static string FindKvServer()
    {
        var env = Environment.GetEnvironmentVariable("KV_SERVER");
        if (!string.IsNullOrEmpty(env))
        {
            if (File.Exists(env)) return Path.GetFullPath(env);
            throw new FileNotFoundException($"KV_SERVER points to a missing file: {env}");
        }
        var here = Path.GetDirectoryName(typeof(ServerPaths).Assembly.Location)
                   ?? AppContext.BaseDirectory;
        var candidates = new List<string> { Path.Combine(here, "kv-server") };
        // <artifacts>/bin/Kv.Tests/<config>[_rid]/Kv.Tests.dll -> <artifacts>/bin/Kv.Server/<config>[_rid]/kv-server
        var cfgDir = new DirectoryInfo(here);
        if (cfgDir.Parent?.Parent is { } binDir)
        {
            candidates.Add(Path.Combine(binDir.FullName, "Kv.Server", cfgDir.Name, "kv-server"));
            foreach (var c in new[] { "release", "debug" })
                candidates.Add(Path.Combine(binDir.FullName, "Kv.Server", c, "kv-server"));
        }
        // Walk up to the repository root (the folder holding Systems.slnx).
        for (var d = new DirectoryInfo(here); d is not null; d = d.Parent)
        {
            if (!File.Exists(Path.Combine(d.FullName, "Systems.slnx"))) continue;
            foreach (var c in new[] { "release", "debug" })
                candidates.Add(Path.Combine(d.FullName, "artifacts", "bin", "Kv.Server", c, "kv-server"));
            break;
        }
        foreach (var c in candidates)
        {
            if (File.Exists(c)) return c;
            if (File.Exists(c + ".dll")) return c + ".dll";
        }
        throw new FileNotFoundException("kv-server not found (build src/Kv.Server first, or set KV_SERVER). Tried: "
                                        + string.Join(", ", candidates));
    }

    private static string FindTool(string envName, string name)
    {
        var env = Environment.GetEnvironmentVariable(envName);
        if (!string.IsNullOrEmpty(env)) return env;
        var usr = Path.Combine("/usr/bin", name);
        if (File.Exists(usr)) return usr;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length == 0) continue;
            var p = Path.Combine(dir, name);
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException($"{name} not found (apt-get install redis-server redis-tools, or set {envName})");
    }
}
