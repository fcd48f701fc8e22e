"""Constants for the Jenkins source: page sizes and the `tree=` selectors it asks Jenkins for."""

DEFAULT_PAGE_SIZE = 100  # builds per `allBuilds{from,to}` range request

# Jenkins answers `api/json` with everything at depth 0 unless told otherwise; a `tree=` selector keeps
# responses small (a build's full actions list runs to kilobytes) and makes nested fields appear at all.
_CHANGE_ITEM = "commitId,timestamp,msg,authorEmail,author[fullName],affectedPaths"
BUILD_TREE = (
    "number,id,displayName,description,result,building,timestamp,duration,estimatedDuration,url,"
    "builtOn,queueId,"
    "actions[_class,parameters[_class,name,value],lastBuiltRevision[SHA1,branch[SHA1,name]],remoteUrls,"
    "causes[_class,shortDescription,userId,userName,upstreamProject,upstreamBuild]],"
    f"changeSet[kind,items[{_CHANGE_ITEM}]],"
    f"changeSets[kind,items[{_CHANGE_ITEM}]]"
)
# `jobs[name]` on a child shows whether it is a folder (it then has a `jobs` list, possibly empty);
# `lastBuild[number]` lets a refresh skip jobs that have not built since the last run.
JOBS_TREE = "jobs[_class,name,fullName,url,color,description,buildable,lastBuild[number],jobs[name]]"

# Containers of jobs: folders, organisation folders and multibranch projects (one job per branch).
FOLDER_CLASS_MARKERS = ("Folder", "MultiBranchProject")

# Git plugin prefixes that make the same branch look different across job types.
BRANCH_PREFIXES = ("refs/remotes/origin/", "refs/heads/", "remotes/origin/", "origin/")
