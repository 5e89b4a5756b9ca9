using System.Reflection;

namespace Kv.Commands;

/// <summary>Marks a static class whose <c>static void Register(CommandTable)</c> adds a group of commands.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class CommandGroupAttribute : Attribute;

/// <summary>Builds the command table from every <see cref="CommandGroupAttribute"/> class in this assembly.</summary>
public static class CommandRegistry
{
    /// <summary>Calls each group's Register method.</summary>
    public static void RegisterAll(CommandTable table)
    {
        foreach (var t in typeof(CommandRegistry).Assembly.GetTypes())
        {
            if (t.GetCustomAttribute<CommandGroupAttribute>() is null) continue;
            var m = t.GetMethod("Register", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static, [typeof(CommandTable)])
                    ?? throw new InvalidOperationException($"{t.Name} has no static Register(CommandTable)");
            m.Invoke(null, [table]);
        }
    }
}
